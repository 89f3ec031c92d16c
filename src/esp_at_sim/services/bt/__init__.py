"""Classic Bluetooth (BR/EDR) of a module, on Google's Bumble: GAP and
security (``stack.py``), SPP over RFCOMM (``spp.py``), A2DP (``a2dp.py``).

Like ``services/ble/``, this package is where Bumble is imported; it shares
the module's controller and host (``services/ble/radio.py``) with LE, as
the ESP32's dual-mode controller does.
"""
