"""Argument checks shared by a compiled wrapper (fastnn.core) and its NumPy twin (fastnn.reference).

One module per kernel family whose checks go beyond the generic ones of fastnn._validation.
Both paths call the same function, so they raise the same exception with the same message on
bad input (the twin tests require "both raise or neither").
"""
