"""Run one simulated charge point against a CSMS: `python -m connectors.simulator --help`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import ssl

from connectors.simulator.charge_point import SimulatedChargePoint, SimulatedEv

LOGGER = logging.getLogger("connectors.simulator")


async def simulate(station: SimulatedChargePoint, report_every_s: float) -> None:
    await station.start()
    try:
        while True:
            await asyncio.sleep(report_every_s)
            LOGGER.info(
                "%s draws %.2f kW (%d meter reports)", station.station_id, station.power_kw, station.samples_sent
            )
    finally:
        await station.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the CSMS endpoint of this station, e.g. ws://127.0.0.1:9000/ocpp/CP1")
    parser.add_argument("--version", choices=["1.6", "2.0.1"], default="1.6")
    parser.add_argument("--ev-max-kw", type=float, default=11.0)
    parser.add_argument("--meter-interval-s", type=float, default=10.0)
    parser.add_argument("--password", help="basic auth password (security profile 1 or 2)")
    parser.add_argument("--ca", help="CA certificate (PEM) to trust for a wss:// endpoint")
    parser.add_argument("--disobey", action="store_true", help="accept profiles but let the car draw its maximum")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("ocpp").setLevel(logging.WARNING)
    station = SimulatedChargePoint(
        arguments.url.rstrip("/").rsplit("/", 1)[-1],
        arguments.url,
        arguments.version,
        ev=SimulatedEv(max_power_kw=arguments.ev_max_kw),
        meter_interval_s=arguments.meter_interval_s,
        obeys_profiles=not arguments.disobey,
        password=arguments.password,
        ssl_context=ssl.create_default_context(cafile=arguments.ca) if arguments.url.startswith("wss://") else None,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(simulate(station, arguments.meter_interval_s))


if __name__ == "__main__":
    main()
