"""Data preprocessing as in ``keras.preprocessing``: ``sequence`` (pad_sequences), ``text``
(Tokenizer, TextVectorization) and ``image``. Import the submodule you need."""
