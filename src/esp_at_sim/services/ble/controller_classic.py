"""Classic (BR/EDR) half of the air controller: inquiry, paging, LMP.

Filled in by the Classic Bluetooth support; an LE-only controller keeps
these hooks inert.
"""

from __future__ import annotations

from typing import Any

from bumble import hci


class ClassicMixin:
    def _init_classic(self) -> None:
        pass

    def _close_classic(self) -> None:
        pass

    def _send_lmp(self, receiver_address: Any, packet: Any) -> None:
        pass

    def _classic_link_down(self, link: Any, reason: int) -> None:
        pass

    def _classic_disconnect(self, command: Any) -> None:
        pass

    def _classic_frame(self, link: Any, kind: str, payload: Any) -> None:
        pass

    def _on_inquiry_result(self, result: Any) -> None:
        pass

    def _on_inquiry_complete(self) -> None:
        pass

    def _on_page(self, link: Any) -> None:
        pass

    # commands a host sends at power-on that need no action here
    def on_hci_write_secure_connections_host_support_command(self, _c: Any) -> Any:
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)
