{
  "targets": [
    {
      "target_name": "peer_credentials",
      "sources": ["ipc/native/peer_credentials.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
