"""One module per user capability; each declares ROUTES and knows nothing about WeCom or DingTalk."""
