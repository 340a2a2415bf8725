"""Simulated charge points and EVs for the demo, the tests and the benchmarks.

`profiles` is the station's own smart-charging logic (profile store and composite schedule by the
OCPP rules), pure and tested on its own; `requests` reads what a CSMS sends and writes what the
station answers, pure too; `charge_point` is the websocket charge point (1.6 or 2.0.1) built on them.
`fleet` runs a site's stations together, with the cars of `arrivals` (a seeded working day) coming
and going on the compressed time of `clock` (`gridcharge fleet` on the command line).
"""
