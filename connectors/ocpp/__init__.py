"""The CSMS side of OCPP-J 1.6 and 2.0.1: one interface for the service, version specifics per module.

The rest of the service sees `events` (domain events out, an `EventSink` to receive them) and
`commands` (a `StationCommander` per connected station: limits in, acknowledgements out as events).

- `server`: the websocket endpoint, subprotocol negotiation, the `StationRegistry`.
- `connection`: what both versions' handlers share; `v16`, `v201`: the thin `@on` handlers.
- `commands`: the per-station outbound queue (one CALL in flight, a timeout on each).
- Pure payload <-> domain translations, one concern each: `meter_values` (MeterValues ->
  `MeterSample`), `status` (connector states -> `GunStatus`), `capabilities` (GetConfiguration /
  GetVariables -> `StationCapabilities`), `profiles` (allocation -> profile -> SetChargingProfile /
  ClearChargingProfile), `composite` (GetCompositeSchedule request and answer), `charging_needs`
  (NotifyEVChargingNeeds), on the tolerant readers of `parsing`.
- `obedience` (pure): which guns cannot be steered, from refusals and from meters that show a
  limit ignored; `fallback`: the tx default and station cap sent at boot; `security`: basic auth
  passwords (hashed) and the TLS context of security profiles 1 and 2.
"""
