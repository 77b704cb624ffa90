"""A testing kit for spamgw, shipped with it: what the project's own tests and
benchmarks use to drive a gateway, and what an operator can point at a deployment.

- ``ports.free_port``: a loopback port nothing listens on.
- ``process.GatewayProcess``: ``python -m gateway run --config`` as a process, waited
  for until a port answers, stopped with SIGTERM (then SIGKILL).
- ``config.write_config``: a gateway TOML config written from dicts.
- ``agi.asterisk_session``: Asterisk's side of one FastAGI session.
- ``smpp.Esme``: an ESME on a plain socket, speaking through spamgw's own SMPP session.
- ``redisserver``: a real ``RedisServer``, a ``ClusterServers`` Redis Cluster, a
  ``SentinelGroup``, on free loopback ports.
- ``policy.policy_core``: a policy tree's engine in process (rules, lists, plugins);
  ``policy.plugin_module``: a plugin file loaded as the gateway loads it.
"""
