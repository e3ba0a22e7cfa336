"""Blender (headless) check: drive an imported GLB's ARKit-named shape keys from a Live Link Face CSV by name.

usage: blender -b --factory-startup --python blender_livelink_csv.py -- FILE.glb TAKE.csv OUT.json ROW [ROW ...]

Each CSV column (PascalCase, e.g. ``JawOpen``) keys the shape key of the same name in camelCase
(``jawOpen``), one key per CSV row at the take's 60 fps; the report lists, per requested row, the shape-key
values Blender evaluates there and the column names that found no shape key.
"""

import csv
import json
import sys

import bpy

argv = sys.argv[sys.argv.index("--") + 1 :]
glb, take, out, rows = argv[0], argv[1], argv[2], [int(r) for r in argv[3:]]
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_scene.gltf(filepath=glb, import_shading="SMOOTH")
scene = bpy.context.scene
scene.render.fps = 60
mesh = next(o for o in bpy.data.objects if o.type == "MESH")
mesh.data.shape_keys.animation_data_clear()  # the CSV drives the face, not the GLB's own animation
blocks = {k.name: k for k in mesh.data.shape_keys.key_blocks}

with open(take, newline="") as fh:
    table = list(csv.reader(fh))
header, body = table[0], table[1:]
matched, unmatched = {}, []
for col, name in enumerate(header[2:], start=2):
    key = blocks.get(name[0].lower() + name[1:])
    if key is None:
        unmatched.append(name)
        continue
    matched[name] = key.name
    for index, row in enumerate(body):
        key.value = float(row[col])
        key.keyframe_insert("value", frame=index + 1)

report = {"matched": matched, "unmatched": unmatched, "rows": []}
for row in rows:
    scene.frame_set(row + 1)
    report["rows"].append({"row": row, "values": {name: blocks[key].value for name, key in matched.items()}})
with open(out, "w") as fh:
    json.dump(report, fh)
