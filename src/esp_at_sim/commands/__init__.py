"""One module per chapter of the spec; each declares its commands into the registry.

Every module in this package is imported by :func:`esp_at_sim.device.module.load_commands`,
so adding a chapter is adding a file. The chapters named in :data:`DEFERRED` are
imported on first use instead (the first lookup of a command their source names,
or a listing such as ``AT+CMD?``): they pull in heavy libraries (the Bluetooth
stack, MQTT, HTTP and WebSocket protocol libraries) that a module which never
uses them should not pay for at start-up. A deferred chapter declares commands
and nothing else - no boot hooks, scenario tables, faults or NVS initializers
(``tests/at/test_deferred_chapters.py`` checks).
"""

DEFERRED = frozenset(
    {
        "ble_gap",
        "ble_gatt",
        "ble_hid",
        "ble_periodic",
        "ble_sec",
        "ble_spp",
        "blufi",
        "bt",
        "bt_a2dp",
        "bt_spp",
        "http",
        "mqtt",
        "webserver",
        "websocket",
    }
)
