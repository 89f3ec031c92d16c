"""The virtual Bluetooth radio shared by the modules of a world.

Theory of operation
-------------------
Every module with Bluetooth switched on owns a :class:`RadioNode` (its
controller's antenna). Nodes publish what they do on the air - advertising
sets, scanners, connection initiations, inquiry and page scan - to the
world's :class:`BleAir`, which decides who hears whom:

* received power comes from the world's geometry (log-distance path loss
  between scenario positions) or from a configured pairwise RSSI, and a node
  only hears another one above the receiver sensitivity; faults move nodes,
  take them out of the world or add interference (packet loss);
* advertising is delivered scanner-driven: only nodes that are scanning (or
  initiating a connection) are visited, once per scan interval, and each
  advertiser in range is heard in proportion to the scan duty cycle and its
  own advertising rate, so idle advertisers cost nothing;
* a connection is an :class:`AirLink` with real parameters (interval,
  latency, supervision timeout, data length, PHY); frames cross it after
  their air time, in order, and a link whose ends stop hearing each other is
  dropped with reason 0x08 once its supervision timeout expires;
* Classic inquiry, paging and classic links use the same geometry.

Nothing here knows HCI or any host stack: payloads are opaque objects that
the controller adapter (``services/ble/controller.py``) puts on the air.
"""

from esp_at_sim.world.radio.air import AirAddress, BleAir, RadioNode
from esp_at_sim.world.radio.link import AirLink, LinkParams

__all__ = ["AirAddress", "AirLink", "BleAir", "LinkParams", "RadioNode"]
