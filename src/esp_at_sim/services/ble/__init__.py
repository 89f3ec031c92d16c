"""Bluetooth LE of a module, on Google's Bumble.

Every Bumble import of the project lives in this package and in
``services/bt/`` so that a Bumble upgrade touches one place:
``controller.py`` (the controller on the world's air), ``stack.py`` (the
per-module host: Bumble's ``Device``), the GATT table, security, HID,
BluFi and the HCI export to real hosts.
"""
