"""The sans-IO AT core: framing, parameters, the command registry and rendering.

Nothing in this package performs I/O or imports asyncio, socket or serial; the
device layer feeds it bytes and writes out the bytes it renders.
"""
