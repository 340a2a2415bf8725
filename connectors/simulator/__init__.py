"""Simulated charge points and EVs for the demo, the tests and the benchmarks.

`profiles` is the station's own smart-charging logic (profile store and composite schedule by the
OCPP rules), pure and tested on its own; the websocket charge point builds on it.
"""
