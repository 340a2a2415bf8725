"""The CSMS side of OCPP-J 1.6 and 2.0.1: one interface for the service, version specifics per module.

`translate` holds the pure payload <-> domain translations; the socket server, the per-version
handlers and the outbound command queue build on it.
"""
