"""Web pages served by the app itself (simulator, dashboards); no CDN, no outside assets."""
