"""The grammar of every record proxylab reads or writes, one module per record.

=====================  ==============================================================
record                 module (what to call)
=====================  ==============================================================
any log file's lines   :mod:`.text` (``split_lines``, ``read_lines``: ``\\n`` only)
Squid access line      :mod:`.squid` (``parse_line``, ``verdict``, ``NATIVE_PATTERN``
                       and the field patterns for vectorised readers)
host:port / target     :mod:`.hostport` (``split_target``, ``split_authority``)
probe step line        :mod:`.step` (``parse_step``, ``find_step``, ``STEP_MARK``)
Lambda platform lines  :mod:`.platform` (``start_line``/``parse_start``, ``end_line``,
                       ``report_line``/``parse_report``, ``init_report_line``)
services.log record    :mod:`.services` (``ServiceRecord.from_json``/``to_json``)
dnsmasq query line     :mod:`.dns` (``parse_dns_line``)
=====================  ==============================================================

These modules import only the standard library and :mod:`proxylab.vocab`: they sit
under the capture, the lab, the tables and the audit, and each of those uses them
instead of re-reading a record its own way. Tables (pandas) are built on top in
:mod:`proxylab.logs`.
"""
