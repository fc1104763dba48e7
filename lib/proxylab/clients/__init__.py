"""The client matrix (``proxylab clients``): which real HTTP clients honour which
proxy variables, measured in the lab's Lambda subnet.

``registry`` (the clients), ``cases`` (the environments), ``measure`` (running them
in a lab), ``matrix`` (the records and the evidence rule), ``render`` (text and
Markdown). ``cell`` is the tiny driver each cell runs through.
"""

# Here, not in ``measure``: the CLI's argument parser shows them, and importing
# ``measure`` (pandas, the lab) for that cost every `proxylab` command ~0.3 CPU-s and
# ~85 MB (`proxylab audit` on a small file: 122 -> 208 MB).
DEFAULT_TIMEOUT_S = 3.0  # per request
DEFAULT_WORKERS = 8  # cells at a time
