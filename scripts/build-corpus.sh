#!/usr/bin/env bash
# Build the training corpus for semcom's diffusion model (see docs/corpus.md).
#
#   scripts/build-corpus.sh [OUT_DIR]        (default: corpus/)
#
# Fetches permissively licensed images with the ordinary package clients
# (`pip download` for the scikit-image wheel, `apt-get download` for Debian's
# lomiri-wallpapers and mate-backgrounds packages), copies them unchanged into
#
#   OUT_DIR/train/       natural photos for `semcom train diffusion`
#   OUT_DIR/held/        the texture family held out for `semcom train lora`
#   OUT_DIR/val/         validation photos, never trained on (share-alike or GPL, so
#                        kept out of the weights): for choosing settings with
#                        `semcom eval --images OUT_DIR/val --max-side 640`
#   OUT_DIR/SOURCES.md   per file: origin, author/copyright, licence, sha256
#
# Re-running replaces train/, held/, val/ and SOURCES.md with the same files (nothing
# else in OUT_DIR is touched). Works as root or as a normal user: root's
# `apt-get download` prints a harmless warning about the `_apt` sandbox user.
# Needs: bash, python3 with pip, apt-get (with package lists: `apt-get update`
# once, as root), dpkg-deb, sha256sum.
set -euo pipefail

# ---------------------------------------------------------------------------
# Pinned inputs.

# scikit-image: the exact wheel is pinned (name and sha256), whatever the local
# interpreter, so every machine extracts the same bytes.
SKIMAGE_VERSION=0.26.0
SKIMAGE_WHEEL=scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl
SKIMAGE_WHEEL_SHA256=74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af
SKIMAGE_PIP_TARGET=(--platform manylinux_2_28_x86_64 --python-version 3.11
                    --implementation cp --abi cp311)

# scikit-image files taken, with the licence statement that the docstring of the
# named loader function in skimage/data/_fetchers.py makes (checked below, so a
# new version that changes a statement stops the build). Tab-separated:
# file, subset (train/held), loader, author / copyright, licence, statement quoted.
# Every other file in skimage/data/ is left out on purpose: docs/corpus.md says why.
SKIMAGE_FILES=$(cat <<'EOF'
camera.png	train	camera	Lav Varshney (photographer)	CC0	No copyright restrictions. CC0 by the photographer (Lav Varshney).
coins.png	train	coins	Brooklyn Museum Collection (Greek coins from Pompeii)	no known copyright restrictions (taken as public domain)	No known copyright restrictions.
hubble_deep_field.jpg	train	hubble_deep_field	NASA (Hubble eXtreme Deep Field, HubbleSite)	public domain	The image was captured by NASA and `may be freely used in the public domain
ihc.png	train	immunohistochemistry	Center for Microscopy And Molecular Imaging (CMMI)	no known copyright restrictions (taken as public domain)	No known copyright restrictions.
retina.jpg	train	retina	Mikael Häggström (Wikimedia Commons, "Fundus photograph of normal left eye")	CC0-1.0	This file is made available under the Creative Commons CC0 1.0 Universal Public Domain Dedication.
brick.png	held	brick	CC0Textures ("Bricks25"); perspective-corrected, rotated, cropped and scaled by scikit-image	CC0	licensed under the Creative Commons CC0 License.
grass.png	held	grass	linolafett (DeviantArt, "Grass-01"); cropped and greyscaled by scikit-image	CC0	licensed under the Creative Commons CC0 License.
gravel.png	held	gravel	CC0Textures ("Gravel04"); rescaled, cropped and greyscaled by scikit-image	CC0	licensed under the Creative Commons CC0 License.
EOF
)

# Debian packages; the per-file licence comes from each package's DEP-5
# copyright file, parsed below. Only these licences are taken:
LOMIRI_PACKAGES=(lomiri-wallpapers-16.04 lomiri-wallpapers-20.04)
LOMIRI_LICENCES=(CC0-1.0 CC-BY-4.0)
# Permissively licensed but not a photograph (a digital colour gradient).
LOMIRI_NOT_PHOTOS=(umang_by_Abhishek_Mudgal.jpg)
# Licences of the photos that go to val/ instead (never into the weights).
VAL_LICENCES=(CC-BY-SA-3.0 CC-BY-SA-4.0 GPL-2+)
# A Debian package of nature photographs (GPL-2+), all for val/: the installed folder
# and the upstream folder its DEP-5 file names them by.
MATE_PACKAGE=mate-backgrounds
MATE_DIR=usr/share/backgrounds/mate/nature
MATE_UPSTREAM=nature
# Share-alike licensed but not a photograph (flat painted colour bands).
VAL_NOT_PHOTOS=(Painting-Colors_by__herobrine7gamer.jpg)

# The project's evaluation samples (samples/): never in the corpus.
EVAL_SAMPLES=(astronaut.png chelsea.png coffee.png rocket.jpg)

# ---------------------------------------------------------------------------

log() { printf 'build-corpus: %s\n' "$*" >&2; }
die() { printf 'build-corpus: error: %s\n' "$*" >&2; exit 1; }

[[ $# -le 1 ]] || die "usage: $0 [OUT_DIR]   (default: corpus/)"
OUT=${1:-corpus}
[[ -n $OUT && $OUT != / ]] || die "refusing OUT_DIR '$OUT'"
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_SAMPLES="$SCRIPT_DIR/../samples"

for tool in python3 apt-get dpkg-deb sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found"
done
python3 -m pip --version >/dev/null 2>&1 || die "python3 has no pip ('python3 -m pip' failed)"

START=$SECONDS
TMP=$(mktemp -d "${TMPDIR:-/tmp}/build-corpus.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
STAGE="$TMP/out"
mkdir -p "$TMP/dl" "$TMP/src" "$STAGE/train" "$STAGE/held" "$STAGE/val"
ROWS="$TMP/rows.tsv"       # out path, origin, author, licence (SOURCES.md table)
VAL_ROWS="$TMP/val.tsv"    # the same for val/
SKIPPED="$TMP/skipped.tsv" # package file, package, reason (SOURCES.md, "Left out")
: >"$ROWS"
: >"$SKIPPED"
: >"$VAL_ROWS"

# ---------------------------------------------------------------------------
# 1. scikit-image wheel.

log "pip download scikit-image==$SKIMAGE_VERSION"
if ! python3 -m pip download --no-deps --only-binary=:all: "${SKIMAGE_PIP_TARGET[@]}" \
        "scikit-image==$SKIMAGE_VERSION" -d "$TMP/dl" >"$TMP/pip.log" 2>&1; then
    tail -n 20 "$TMP/pip.log" >&2
    die "pip download of scikit-image==$SKIMAGE_VERSION failed (log above)"
fi
WHEEL="$TMP/dl/$SKIMAGE_WHEEL"
[[ -f $WHEEL ]] || die "pip did not fetch $SKIMAGE_WHEEL (got: $(ls "$TMP/dl"))"
got=$(sha256sum "$WHEEL" | cut -d' ' -f1)
[[ $got == "$SKIMAGE_WHEEL_SHA256" ]] ||
    die "$SKIMAGE_WHEEL has sha256 $got, expected $SKIMAGE_WHEEL_SHA256"

# Extract skimage/data/ and check every licence statement against its docstring.
python3 - "$WHEEL" "$TMP/src/skimage" "$SKIMAGE_FILES" <<'PY'
import ast, sys, zipfile
wheel, dest, table = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    z.extractall(dest, [n for n in z.namelist() if n.startswith("skimage/data/")])
src = open(f"{dest}/skimage/data/_fetchers.py", encoding="utf-8").read()
docs = {f.name: " ".join((ast.get_docstring(f) or "").split())
        for f in ast.walk(ast.parse(src)) if isinstance(f, ast.FunctionDef)}
for row in table.splitlines():
    name, _subset, func, _author, _lic, statement = row.split("\t")
    if statement not in docs.get(func, ""):
        sys.exit(f"build-corpus: error: skimage.data.{func}() docstring no longer says "
                 f"{statement!r}: re-check the licence of {name}")
PY

while IFS=$'\t' read -r name subset func author licence statement; do
    f="$TMP/src/skimage/skimage/data/$name"
    [[ -f $f ]] || die "$name is missing from $SKIMAGE_WHEEL"
    cp "$f" "$STAGE/$subset/skimage-$name"
    printf '%s\t%s\t%s\t%s\n' "$subset/skimage-$name" \
        "PyPI \`scikit-image\` $SKIMAGE_VERSION wheel, \`skimage/data/$name\`" \
        "$author" "$licence (\`skimage.data.$func()\`: \"${statement//\`/}\")" >>"$ROWS"
done <<<"$SKIMAGE_FILES"

# ---------------------------------------------------------------------------
# 2. Debian packages: lomiri-wallpapers (train/ and val/), mate-backgrounds (val/).

# Prints "file<TAB>licence<TAB>copyright" for every file in DIR of an extracted
# package, from its DEP-5 copyright file: paragraphs split on blank lines,
# continuation lines (leading space) joined to their field, a Files: field lists
# whitespace-separated patterns (* and ? wildcards, last matching paragraph wins).
# The DEP-5 file names the source file UPSTREAM/NAME: lomiri-wallpapers-R keeps the
# images of release R in R/, mate-backgrounds its nature photos in nature/.
dep5_licences() { # root package dir upstream
    python3 - "$1" "$2" "$3" "$4" <<'PY'
import os, re, sys
root, pkg, bgdir, release = sys.argv[1:5]
paras, cur, field = [], {}, None
for line in open(f"{root}/usr/share/doc/{pkg}/copyright", encoding="utf-8"):
    line = line.rstrip("\n")
    if not line.strip():
        if cur: paras.append(cur)
        cur, field = {}, None
    elif line[0] in " \t":
        if field is None: sys.exit(f"{pkg}: continuation line before any field: {line!r}")
        cur[field].append(line.strip())
    else:
        field, _, value = line.partition(":")
        cur[field.strip()] = [value.strip()]
if cur: paras.append(cur)

def glob_re(pat):
    out = []
    for c in re.split(r"(\\.|\*|\?)", pat):
        out.append(".*" if c == "*" else "." if c == "?" else
                   re.escape(c[1:] if c.startswith("\\") else c))
    return re.compile("".join(out) + r"\Z")

stanzas = [(p["Files"], p) for p in paras if "Files" in p]
stanzas = [([glob_re(x) for v in files for x in v.split()], p) for files, p in stanzas]
bg = f"{root}/{bgdir}"
for name in sorted(os.listdir(bg)):
    path, hit = f"{release}/{name}", None
    for pats, p in stanzas:
        if any(r.match(path) for r in pats):
            hit = p
    if hit is None or "License" not in hit or "Copyright" not in hit:
        sys.exit(f"build-corpus: error: {pkg}: no Files/Copyright/License paragraph covers {path}")
    lic = hit["License"][0]
    cr = "; ".join(x for x in hit["Copyright"] if x)
    print(f"{name}\t{lic}\t{cr}")
PY
}

in_list() { # word list...
    local w=$1; shift
    local x; for x in "$@"; do [[ $x == "$w" ]] && return 0; done
    return 1
}

TAKEN=$(printf '%s or ' "${LOMIRI_LICENCES[@]}"); TAKEN=${TAKEN% or }
declare -A PKG_VERSION
# Downloads and extracts a package into $TMP/src/PKG; records its version.
fetch_deb() { # package
    local pkg=$1
    log "apt-get download $pkg"
    mkdir -p "$TMP/dl/$pkg"
    if ! (cd "$TMP/dl/$pkg" && apt-get download "$pkg") >"$TMP/apt-$pkg.log" 2>&1; then
        cat "$TMP/apt-$pkg.log" >&2
        die "apt-get download $pkg failed (log above; without package lists run 'apt-get update' as root first)"
    fi
    grep -v "_apt\|^Get:\|^Fetched" "$TMP/apt-$pkg.log" >&2 || true
    local debs=("$TMP/dl/$pkg"/*.deb)
    [[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || die "apt-get download $pkg produced no single .deb"
    [[ $(dpkg-deb -f "${debs[0]}" Package) == "$pkg" ]] || die "${debs[0]} is not $pkg"
    PKG_VERSION[$pkg]=$(dpkg-deb -f "${debs[0]}" Version)
    dpkg-deb -x "${debs[0]}" "$TMP/src/$pkg"
}

# Copies SRC_DIR/NAME of extracted package PKG to SUBSET/PREFIX-NAME and adds its row
# (SOURCES.md table) to ROWS_FILE.
take_deb_file() { # pkg src_dir name subset prefix copyright licence rows_file
    local pkg=$1 dir=$2 name=$3 subset=$4 prefix=$5 copyright=$6 licence=$7 rows=$8
    local out="$subset/$prefix-$name"
    [[ ! -e "$STAGE/$out" ]] || die "$prefix-$name comes from two packages"
    cp "$TMP/src/$pkg/$dir/$name" "$STAGE/$out"
    printf '%s\t%s\t%s\t%s\n' "$out" "Debian \`$pkg\` ${PKG_VERSION[$pkg]}, \`/$dir/$name\`" \
        "© $copyright" "$licence (\`/usr/share/doc/$pkg/copyright\`)" >>"$rows"
}

for pkg in "${LOMIRI_PACKAGES[@]}"; do
    fetch_deb "$pkg"
    dep5_licences "$TMP/src/$pkg" "$pkg" usr/share/backgrounds "${pkg#lomiri-wallpapers-}" >"$TMP/lic-$pkg.tsv" ||
        die "parsing the copyright file of $pkg failed"
    [[ -s "$TMP/lic-$pkg.tsv" ]] || die "$pkg has no usr/share/backgrounds/ images"
    while IFS=$'\t' read -r name licence copyright; do
        if ! in_list "$licence" "${LOMIRI_LICENCES[@]}"; then
            if in_list "$licence" "${VAL_LICENCES[@]}" && ! in_list "$name" "${VAL_NOT_PHOTOS[@]}"; then
                log "  val  $name ($licence)"
                take_deb_file "$pkg" usr/share/backgrounds "$name" val lomiri "$copyright" "$licence" "$VAL_ROWS"
                printf '%s\t%s\t%s\n' "$name" "$pkg" "$licence (only $TAKEN trained on): in val/" >>"$SKIPPED"
                continue
            fi
            why="only $TAKEN taken"
            if in_list "$name" "${VAL_NOT_PHOTOS[@]}"; then why="$why; not a photograph, so not in val/ either"; fi
            log "  skip $name ($licence: $why)"
            printf '%s\t%s\t%s\n' "$name" "$pkg" "$licence ($why)" >>"$SKIPPED"
            continue
        fi
        if in_list "$name" "${LOMIRI_NOT_PHOTOS[@]}"; then
            log "  skip $name ($licence, not a photograph)"
            printf '%s\t%s\t%s\n' "$name" "$pkg" "$licence, but not a photograph" >>"$SKIPPED"
            continue
        fi
        take_deb_file "$pkg" usr/share/backgrounds "$name" train lomiri "$copyright" "$licence" "$ROWS"
    done <"$TMP/lic-$pkg.tsv"
done

fetch_deb "$MATE_PACKAGE"
dep5_licences "$TMP/src/$MATE_PACKAGE" "$MATE_PACKAGE" "$MATE_DIR" "$MATE_UPSTREAM" >"$TMP/lic-$MATE_PACKAGE.tsv" ||
    die "parsing the copyright file of $MATE_PACKAGE failed"
[[ -s "$TMP/lic-$MATE_PACKAGE.tsv" ]] || die "$MATE_PACKAGE has no /$MATE_DIR images"
while IFS=$'\t' read -r name licence copyright; do
    in_list "$licence" "${VAL_LICENCES[@]}" || die "$MATE_PACKAGE: $name is $licence, not one of ${VAL_LICENCES[*]}"
    log "  val  $name ($licence)"
    take_deb_file "$MATE_PACKAGE" "$MATE_DIR" "$name" val mate "$copyright" "$licence" "$VAL_ROWS"
done <"$TMP/lic-$MATE_PACKAGE.tsv"

# ---------------------------------------------------------------------------
# 3. Checks: no evaluation sample (by name or by content), train/, held/ and val/ disjoint.

eval_sums=()
for s in "${EVAL_SAMPLES[@]}"; do
    for dir in "$TMP/src/skimage/skimage/data" "$REPO_SAMPLES"; do
        if [[ -f "$dir/$s" ]]; then eval_sums+=("$(sha256sum "$dir/$s" | cut -d' ' -f1)"); fi
    done
done
[[ ${#eval_sums[@]} -ge ${#EVAL_SAMPLES[@]} ]] || die "could not hash the evaluation samples"
for f in "$STAGE"/train/* "$STAGE"/held/* "$STAGE"/val/*; do
    base=${f##*/}
    for s in "${EVAL_SAMPLES[@]}"; do # by name: any file whose name holds "astronaut", ...
        if [[ $base == *"${s%.*}"* ]]; then
            die "evaluation sample $s would enter the corpus as $base"
        fi
    done
    if in_list "$(sha256sum "$f" | cut -d' ' -f1)" "${eval_sums[@]}"; then
        die "$base is byte-identical to an evaluation sample"
    fi
done
for f in "$STAGE"/held/* "$STAGE"/val/*; do
    [[ ! -e "$STAGE/train/${f##*/}" ]] || die "${f##*/} is in train/ and in held/ or val/"
done
train_sums=$(cd "$STAGE/train" && sha256sum -- * | cut -d' ' -f1)
for f in "$STAGE"/val/*; do
    ! grep -qx "$(sha256sum "$f" | cut -d' ' -f1)" <<<"$train_sums" || die "${f##*/} is also a training image"
done
n_train=$(find "$STAGE/train" -type f | wc -l)
n_held=$(find "$STAGE/held" -type f | wc -l)
n_val=$(find "$STAGE/val" -type f | wc -l)
[[ $n_held -eq 3 ]] || die "held/ has $n_held files, expected 3"
[[ $n_train -gt 0 ]] || die "train/ is empty"
[[ $n_val -gt 0 ]] || die "val/ is empty"

# ---------------------------------------------------------------------------
# 4. SOURCES.md (deterministic: sorted, no dates).

# A markdown table of the rows in FILE (file, origin, author, licence), sorted.
source_table() { # file
    echo "| file | origin | author / copyright | licence |"
    echo "|---|---|---|---|"
    LC_ALL=C sort "$1" | while IFS=$'\t' read -r file origin author licence; do
        printf '| `%s` | %s | %s | %s |\n' "$file" "$origin" "${author//|/\\|}" "${licence//|/\\|}"
    done
}

{
    echo "# Corpus sources"
    echo
    echo "Generated by \`scripts/build-corpus.sh\`; do not edit (see \`docs/corpus.md\`)."
    echo "Every image is copied unchanged from the package named in its row."
    echo
    echo "Inputs:"
    echo
    echo "- PyPI \`scikit-image\` $SKIMAGE_VERSION, wheel \`$SKIMAGE_WHEEL\`"
    echo "  (sha256 \`$SKIMAGE_WHEEL_SHA256\`); licence statements quoted from the"
    echo "  docstrings of the loaders in \`skimage/data/_fetchers.py\`."
    for pkg in "${LOMIRI_PACKAGES[@]}"; do
        n=$(grep -c "^train/lomiri-.*\`$pkg\`" "$ROWS" || true)
        echo "- Debian \`$pkg\` ${PKG_VERSION[$pkg]}; licences from its DEP-5 file"
        echo "  \`/usr/share/doc/$pkg/copyright\`; files under $TAKEN taken: $n."
    done
    echo
    echo "Licences: CC0 / CC0-1.0 = <https://creativecommons.org/publicdomain/zero/1.0/>;"
    echo "CC-BY-4.0 = <https://creativecommons.org/licenses/by/4.0/> (attribution: the"
    echo "author/copyright column; the files are unmodified)."
    echo
    source_table "$ROWS"
    echo
    echo "Validation photos (\`val/\`): share-alike or copyleft licensed, so never trained"
    echo "on (the weights stay free of those terms); used only to measure and to choose"
    echo "settings. CC-BY-SA = <https://creativecommons.org/licenses/by-sa/4.0/> (3.0"
    echo "likewise); GPL-2+ = <https://www.gnu.org/licenses/old-licenses/gpl-2.0.html>;"
    echo "unmodified."
    echo
    source_table "$VAL_ROWS"
    echo
    echo "Left out of the packages above (scikit-image files not listed are left out"
    echo "on purpose too: \`docs/corpus.md\` says why):"
    echo
    echo "| package file | package | reason |"
    echo "|---|---|---|"
    LC_ALL=C sort "$SKIPPED" | while IFS=$'\t' read -r file pkg reason; do
        printf '| `%s` | `%s` | %s |\n' "$file" "$pkg" "$reason"
    done
    echo
    echo "SHA-256 (\`cd OUT_DIR && sha256sum -c\` on this block):"
    echo
    echo '```'
    (cd "$STAGE" && find train held val -type f | LC_ALL=C sort | xargs sha256sum)
    echo '```'
} >"$STAGE/SOURCES.md"

# ---------------------------------------------------------------------------
# 5. Install into OUT (replacing only what this script owns).

mkdir -p "$OUT"
rm -rf "$OUT/train" "$OUT/held" "$OUT/val" "$OUT/SOURCES.md"
cp -R "$STAGE/train" "$STAGE/held" "$STAGE/val" "$STAGE/SOURCES.md" "$OUT/"

bytes=$(du -sb "$OUT/train" "$OUT/held" "$OUT/val" | awk '{s += $1} END {print s}')
log "done in $((SECONDS - START)) s: $OUT/train ($n_train files), $OUT/held ($n_held files), $OUT/val ($n_val files),"
log "  $((bytes / 1024)) KiB in all; sources and licences in $OUT/SOURCES.md"
