"""``python -m esp_at_sim``: the same as the ``esp-at-sim`` command."""

from esp_at_sim.cli import main

main()
