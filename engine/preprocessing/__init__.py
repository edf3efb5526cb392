"""Data preprocessing as in ``keras.preprocessing``: ``sequence`` (pad_sequences) and ``text``
(Tokenizer, TextVectorization). Import the submodule you need."""
