#!/usr/bin/env bash
# llama.cpp on this machine, built for its CPU, in the project's tool cache ($SMOLMOE_HOME/tools):
#   - llama-server and llama-bench, compiled with cmake (-march=native) from the llama.cpp that
#     llama-cpp-python $VERSION vendors: the same source `smolmoe export` takes its converter from;
#   - the llama_cpp Python package of that version (check_gguf and the GGUF tests use it),
#     installed without its own compile and pointed at the shared libraries built above, so
#     ggml and llama are compiled once, not twice.
# Why not a prebuilt wheel: PyPI has no llama-cpp-python binary; xllamacpp's CPU wheel is
# built without AVX-512 (its README says so), which would make llama.cpp look slower than it is.
#   JOBS=N   parallel compile jobs (default: the number of cores)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VERSION=$($PY -c "from smolmoe.core.config import LLAMA_CPP_PYTHON; print(LLAMA_CPP_PYTHON)")
TOOLS=$($PY -c "from smolmoe.core.config import home_path; print(home_path('tools'))")
SOURCES=$($PY -c "from smolmoe.core.config import home_path; print(home_path('sources'))")/llama-cpp-python
SDIST=$SOURCES/llama_cpp_python-$VERSION.tar.gz
SRC=$TOOLS/llama.cpp-$VERSION-src
BUILD=$TOOLS/llama.cpp-$VERSION-build
JOBS=${JOBS:-$(nproc)}

if [ ! -f "$SDIST" ]; then
  mkdir -p "$SOURCES"
  $PY -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$SOURCES"
fi
if [ ! -f "$SRC/CMakeLists.txt" ]; then
  rm -rf "$SRC.tmp" && mkdir -p "$SRC.tmp"
  tar -xzf "$SDIST" -C "$SRC.tmp" --strip-components=3 "llama_cpp_python-$VERSION/vendor/llama.cpp"
  rm -rf "$SRC" && mv "$SRC.tmp" "$SRC"
fi
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  GEN=$(command -v ninja >/dev/null && echo "-G Ninja" || true)
  # Shared libraries: llama_cpp loads libllama.so. No curl/ssl (models are local files), no web
  # UI, no tests or examples: only what the two tools and the Python package need.
  cmake -S "$SRC" -B "$BUILD" $GEN -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
    -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
    -DLLAMA_BUILD_UI=OFF -DLLAMA_BUILD_APP=OFF >/dev/null
fi
cmake --build "$BUILD" -j "$JOBS" --target llama llama-bench llama-server
# The Python package alone (LLAMA_BUILD=OFF skips its compile); its lib/ is the build's bin/.
if ! $PY -c "import llama_cpp" 2>/dev/null; then
  CMAKE_ARGS="-DLLAMA_BUILD=OFF -DLLAVA_BUILD=OFF" $PY -m pip install -q "$SDIST"
  PKG=$($PY -c "import importlib.util, os; print(os.path.dirname(importlib.util.find_spec('llama_cpp').origin))")
  rm -rf "$PKG/lib" && ln -s "$BUILD/bin" "$PKG/lib"
fi
$PY -c "import llama_cpp; print('llama.cpp', llama_cpp.__version__, 'ready:', '$BUILD/bin')"
