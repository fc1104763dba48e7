"""The client matrix (``proxylab clients``): which real HTTP clients honour which
proxy variables, measured in the lab's Lambda subnet.

``registry`` (the clients), ``cases`` (the environments), ``measure`` (running them
in a lab), ``matrix`` (the records and the evidence rule), ``render`` (text and
Markdown). ``cell`` is the tiny driver each cell runs through.
"""
