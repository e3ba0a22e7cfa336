"""ComfyUI-3DXTalker: ComfyUI entry point.

ComfyUI imports this package and awaits :func:`comfy_entrypoint` (V3 node API). Nothing heavy is
imported here, and importing the package outside ComfyUI is harmless. There are deliberately no
``NODE_CLASS_MAPPINGS``: ComfyUI would use them and ignore the V3 entry point.
"""

WEB_DIRECTORY = "./web"


async def comfy_entrypoint():
    from .nodes import register_model_folders
    from .nodes.extension import X3DTalkerExtension

    register_model_folders()
    return X3DTalkerExtension()


__all__ = ["WEB_DIRECTORY", "comfy_entrypoint"]
