# proto_rewrite.cmake — copy a .proto for protoc-c 1.4, which rejects proto3
# `optional`.  `optional T f = N;` has the wire format of
# `oneof _f { T f = N; }`, so the copy says that instead.
# Usage: cmake -DIN=a.proto -DOUT=b.proto -P proto_rewrite.cmake
file(READ ${IN} text)
string(REGEX REPLACE
  "([ \t\n])optional[ \t]+([A-Za-z0-9_.]+)[ \t]+([A-Za-z0-9_]+)[ \t]*=[ \t]*([0-9]+)[ \t]*;"
  "\\1oneof _\\3 { \\2 \\3 = \\4; }" text "${text}")
file(WRITE ${OUT} "${text}")
