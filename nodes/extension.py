"""The ComfyUI extension object: lists every node of the pack (V3 API)."""

from __future__ import annotations

from comfy_api.latest import ComfyExtension, io

from . import collect_nodes


class X3DTalkerExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return collect_nodes()
