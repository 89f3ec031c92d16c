"""One module per chapter of the spec; each declares its commands into the registry.

Every module in this package is imported by :func:`esp_at_sim.device.module.load_commands`,
so adding a chapter is adding a file.
"""
