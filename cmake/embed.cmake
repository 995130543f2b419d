# embed.cmake — turn a text file into a C source defining
#   const char <NAME>[] = "...";   (NUL-terminated)
# so that the provider stays one binary while the file stays readable and
# testable where it lives.  Usage:
#   cmake -DIN=file -DOUT=file.c -DNAME=symbol -P embed.cmake
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n    " bytes "${bytes}")
file(WRITE "${OUT}.tmp" "/* Generated from ${IN} by cmake/embed.cmake; do not edit. */\n"
  "const char ${NAME}[] = {\n    ${bytes}0x00};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
