"""Architecture sizes of each network, read from a checkpoint's tensor shapes and config (no torch).

The torch modules are built from these, and the template converter picks the graph template made for
exactly these sizes, so both converters agree on what a checkpoint is and refuse the same files.
"""
