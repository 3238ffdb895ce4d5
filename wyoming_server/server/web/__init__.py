"""The admin web page: plain HTML, CSS and JavaScript served by the admin API (no build step, no CDN)."""
