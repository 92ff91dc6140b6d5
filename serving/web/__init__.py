"""The officers' workstation page (`/review`): plain HTML, CSS and JavaScript, shipped in the package so it
works on a host without internet (no CDN, no build step)."""
