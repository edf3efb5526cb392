"""Training from the app: the worker thread, live dashboard, evaluation, activation preview,
the data and training-settings panels, and the controller that wires them into the main window.

``engine`` reports progress through plain callbacks; :mod:`app.training.worker` turns them into
Qt signals, and everything else here runs in the GUI thread.
"""
