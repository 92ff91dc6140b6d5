"""X-ray physics and rendering (see xscreen.vision.xray.render, .convert, .profiles)."""
