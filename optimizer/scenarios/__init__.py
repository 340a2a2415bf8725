"""Scenarios for planners: session generators, example signals and the packaged Caltech data set.

Every generator returns the sessions DataFrame `optimizer.plan()` and `optimizer.simulate()` take
(session_id, gun, arrival, departure in UTC, energy_kwh, max_kw, phases; the real Caltech sessions
have no max_kw or phases), is a pure function of its arguments (seeded), and has a site builder
beside it. Each module's docstring cites the figures it draws from, and marks as ASSUMPTIONS
those no published source was found for:

    workplace     commuters; ACN-Data (Caltech, March 2019)
    fast_hub      public DC hub; US DOE VTO (paid DC fast charging), TØI, EV Project
    depot         overnight delivery vans; assumptions only
    residential   residents' garage; Sagewell, Electric Nation
    caltech       the real month at Caltech's garage, and its site
    signals       a time-of-use tariff, day-ahead-like prices, a fixed connection, a DSO curtailment
"""

from optimizer.scenarios.caltech import caltech_site, load_caltech_sessions
from optimizer.scenarios.depot import depot_sessions, depot_site
from optimizer.scenarios.fast_hub import fast_hub_sessions, fast_hub_site
from optimizer.scenarios.residential import residential_sessions, residential_site
from optimizer.scenarios.signals import day_ahead_prices, dso_curtailment, fixed_connection, time_of_use_tariff
from optimizer.scenarios.workplace import workplace_sessions, workplace_site

__all__ = [
    "caltech_site",
    "day_ahead_prices",
    "depot_sessions",
    "depot_site",
    "dso_curtailment",
    "fast_hub_sessions",
    "fast_hub_site",
    "fixed_connection",
    "load_caltech_sessions",
    "residential_sessions",
    "residential_site",
    "time_of_use_tariff",
    "workplace_sessions",
    "workplace_site",
]
