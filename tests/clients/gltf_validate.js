// Validate a glTF/GLB with the Khronos glTF validator (npm "gltf-validator"); prints its issue summary as JSON.
// usage: node gltf_validate.js FILE.glb
const fs = require("fs");
const validator = require("gltf-validator");

validator
  .validateBytes(new Uint8Array(fs.readFileSync(process.argv[2])), { maxIssues: 200 })
  .then((report) => console.log(JSON.stringify(report.issues)))
  .catch((error) => {
    console.error(String(error));
    process.exit(3);
  });
