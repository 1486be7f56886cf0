"""The local sandbox gateway: a real HTTP server speaking PingPong V4 on loopback."""
