"""Event APIs, the adapters' second face: change capture, the outbox, command topics.

* :mod:`.store`: the state database (outbox, offsets, snapshots, leases, command keys).
* :mod:`.envelope`: CloudEvents 1.0, structured JSON.
* :mod:`.registration`: the ``events`` part (spec section ``events:``, its
  components and CLI commands).

Kafka is reached only through kafka-python, imported where a broker is
configured; with none, events are read over REST and Server-Sent Events.
"""
