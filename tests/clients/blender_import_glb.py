"""Blender (headless) check: import a GLB and report its armature, shape keys and the animation at frames.

usage: blender -b --factory-startup --python blender_import_glb.py -- FILE.glb OUT.json FPS FRAME [FRAME ...]

Frames are 0-based key indices of the glTF animation; the scene runs at FPS, and Blender's importer puts the
key at time t on frame t * FPS, so key k is frame k.
"""

import json
import sys

import bpy

argv = sys.argv[sys.argv.index("--") + 1 :]
path, out, fps, frames = argv[0], argv[1], int(argv[2]), [int(f) for f in argv[3:]]
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.context.scene.render.fps = fps
# Debian's Blender 3.4 importer breaks on numpy >= 1.24 in its default "NORMALS" shading path (np.bool).
bpy.ops.import_scene.gltf(filepath=path, import_shading="SMOOTH")

armatures = [o for o in bpy.data.objects if o.type == "ARMATURE"]
mesh = next(o for o in bpy.data.objects if o.type == "MESH")
keys = mesh.data.shape_keys
scene = bpy.context.scene
report = {
    "armatures": len(armatures),
    "bones": [b.name for b in armatures[0].data.bones] if armatures else [],
    "parent_is_armature": mesh.parent is not None and mesh.parent.type == "ARMATURE",
    "shape_keys": [k.name for k in keys.key_blocks] if keys else [],
    "frames": [],
}
for frame in frames:
    scene.frame_set(frame)
    evaluated = mesh.evaluated_get(bpy.context.evaluated_depsgraph_get())
    m = evaluated.to_mesh()
    co = [0.0] * (3 * len(m.vertices))
    m.vertices.foreach_get("co", co)
    world = mesh.matrix_world
    evaluated.to_mesh_clear()
    report["frames"].append({
        "frame": frame,
        "values": {k.name: k.value for k in keys.key_blocks} if keys else {},
        "vertices": co,
        "matrix_world": [list(row) for row in world],
    })
with open(out, "w") as fh:
    json.dump(report, fh)
