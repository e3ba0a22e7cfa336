"""What each node does, as plain functions (no ComfyUI import; tested without ComfyUI).

Node classes pass ComfyUI's progress/interrupt hooks in as ``progress``/``cancel`` callbacks and
turn the results into sockets; everything else (choices, defaults, error messages) lives here.
"""
