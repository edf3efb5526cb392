"""Vector code that numba's LLVM does not write by itself, as numba intrinsics in LLVM IR.

numba compiles with LLVM's loop vectorizer only (numba.config.SLP_VECTORIZE is 0): a loop over
a row gets vectors, but they are loaded and stored to memory once per pass over the row, and a
loop of a constant 16 iterations is unrolled to 16 scalars. The loops of the listed products
(kernels/sparse_rows.py) are faster written as whole vectors:

- :func:`compress16`: the nonzeros of 16 entries, written packed (LLVM's vector.compress: one
  ``vcompressps`` on AVX-512, a generic sequence elsewhere) with their positions, and how many.
  The scan of the seed MLP's batches (32 × 784 MNIST pixels, 19 % nonzero) took 4.1 µs with it
  against 19.0 – 19.5 µs for the loop that tests 16 bits at a time and then writes every entry of
  a block one by one (mean over 750 batches, 3 runs, one thread, 2026-12-05).
- :func:`row_sum128`, :func:`row_sum64`, :func:`row_sum16`: ``out[0:w] = Σ values[p] ·
  src[which[p], 0:w]`` over p in lo..hi-1, the w sums held in vector registers across the whole
  list and stored once. The seed MLP's first Dense (n = 128), same batches and runs: the
  product 23 – 24 µs against 31 – 36 µs for four rows at a time through memory; the weight
  gradient's sums 19 µs against 35 – 37 µs.
- :func:`transpose16`: a 16 × 16 tile (float32, float64 or uint8) turned over in vector
  registers (four levels of shuffles), and :func:`transpose_block`, any block by such tiles and
  its edges one by one: the blocks of w and dw that a Dense layer's backward from a mostly-zero
  output gradient turns (sparse_rows.dense_backward): (5408, 128) float32 in 0.083 – 0.088 ms
  on one thread against 0.33 ms for a loop of single entries (median of 30, 3 runs,
  2026-12-06); the pooled gradients and window codes of conv_c1.pool_backward_c1.

- :func:`tile4`: the running sums of four rows × 32 columns of a product
  whose left operand is gathered by offsets, in vector registers over the whole sum: the
  stride-1 convolutions of kernels/conv_tiles.py (four pixels × 32 filters over every tap).

compress16, the row sums and the tiles are generic in the element type (float32, and float64 for the
gradient checks); the callers own the bounds: every entry an intrinsic reads or writes must lie
in its arrays.
"""
from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_I32, _I64 = ir.IntType(32), ir.IntType(64)


def _declare(module, name: str, fnty):
    return module.globals.get(name) or ir.Function(module, fnty, name)


def _vector_name(vt) -> str:
    return f"v{vt.count}{'f32' if vt.element == ir.FloatType() else 'f64'}"


def _data(context, builder, aryty, ary):
    return context.make_array(aryty)(context, builder, ary).data


def _intps(context, builder, sig, args, *which) -> list:
    """The integer arguments at positions ``which``, as intp values."""
    return [context.cast(builder, args[i], sig.args[i], types.intp) for i in which]


def _float_array(t) -> bool:
    return isinstance(t, types.Array) and t.dtype in (types.float32, types.float64)


def _int32_array(t) -> bool:
    return isinstance(t, types.Array) and t.dtype == types.int32


def _splat(builder, value, vt):
    v = builder.insert_element(ir.Constant(vt, ir.Undefined), value, ir.Constant(_I32, 0))
    return builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(_I32, vt.count),
                                                    [0] * vt.count))


@intrinsic
def compress16(typingctx, x, at, j0, indices, values, nnz):
    """x[at:at + 16]'s entries that are not 0 (NaN included, -0.0 not) written to
    values[nnz:], their positions j0 + 0..15 to indices[nnz:]; returns how many. All 16 slots
    of indices and values from nnz on are written (those past the count with leftovers):
    both need room for nnz + 16 entries."""
    if not (_float_array(x) and isinstance(at, types.Integer) and isinstance(j0, types.Integer)
            and _int32_array(indices) and _float_array(values) and values.dtype == x.dtype
            and isinstance(nnz, types.Integer)):
        return None
    sig = types.intp(x, at, j0, indices, values, nnz)

    def codegen(context, builder, sig, args):
        xp, ip, vp = (_data(context, builder, sig.args[i], args[i]) for i in (0, 3, 4))
        ft = xp.type.pointee
        # 512 bits at a time: 16 float32 or 8 float64 (16 float64 in one vector crashed the
        # process, numba 0.68.1 on LLVM 22)
        lanes = 16 if ft == ir.FloatType() else 8
        vt = ir.VectorType(ft, lanes)
        ivt = ir.VectorType(_I32, lanes)
        mt = ir.VectorType(ir.IntType(1), lanes)
        bits = ir.IntType(lanes)
        module = builder.module
        name = "llvm.experimental.vector.compress."
        compress_v = _declare(module, name + _vector_name(vt), ir.FunctionType(vt, [vt, mt, vt]))
        compress_i = _declare(module, f"{name}v{lanes}i32", ir.FunctionType(ivt, [ivt, mt, ivt]))
        ctpop = _declare(module, f"llvm.ctpop.i{lanes}", ir.FunctionType(bits, [bits]))
        at, j0, nnz = _intps(context, builder, sig, args, 1, 2, 5)
        start = nnz
        base = builder.trunc(j0, _I32)
        for part in range(0, 16, lanes):
            src = builder.gep(xp, [builder.add(at, ir.Constant(_I64, part))])
            v = builder.load(builder.bitcast(src, ir.PointerType(vt)), align=4)
            mask = builder.fcmp_unordered("!=", v, ir.Constant(vt, [0.0] * lanes))
            packed = builder.call(compress_v, [v, mask, ir.Constant(vt, ir.Undefined)])
            builder.store(packed, builder.bitcast(builder.gep(vp, [nnz]), ir.PointerType(vt)),
                          align=4)
            where = builder.add(_splat(builder, base, ivt),
                                ir.Constant(ivt, list(range(part, part + lanes))))
            where = builder.call(compress_i, [where, mask, ir.Constant(ivt, ir.Undefined)])
            builder.store(where, builder.bitcast(builder.gep(ip, [nnz]), ir.PointerType(ivt)),
                          align=4)
            count = builder.zext(builder.call(ctpop, [builder.bitcast(mask, bits)]), _I64)
            nnz = builder.add(nnz, count)
        return builder.sub(nnz, start)

    return sig, codegen


def _row_sum(width: int):
    @intrinsic
    def row_sum(typingctx, out, at, src, col, ld, values, which, lo, hi):
        if not (_float_array(out) and _float_array(src) and _float_array(values)
                and out.dtype == src.dtype == values.dtype and _int32_array(which)
                and all(isinstance(t, types.Integer) for t in (at, col, ld, lo, hi))):
            return None
        sig = types.void(out, at, src, col, ld, values, which, lo, hi)

        def codegen(context, builder, sig, args):
            op, sp, vp, wp = (_data(context, builder, sig.args[i], args[i]) for i in (0, 2, 5, 6))
            vt = ir.VectorType(op.type.pointee, width)
            at, col, ld, lo, hi = _intps(context, builder, sig, args, 1, 3, 4, 7, 8)
            sp = builder.gep(sp, [col])
            fmuladd = _declare(builder.module, "llvm.fmuladd." + _vector_name(vt),
                               ir.FunctionType(vt, [vt, vt, vt]))
            before = builder.basic_block
            head = builder.append_basic_block("row_sum.head")
            body = builder.append_basic_block("row_sum.body")
            done = builder.append_basic_block("row_sum.done")
            builder.branch(head)
            builder.position_at_end(head)
            p = builder.phi(_I64)
            acc = builder.phi(vt)
            p.add_incoming(lo, before)
            acc.add_incoming(ir.Constant(vt, [0.0] * width), before)
            builder.cbranch(builder.icmp_signed("<", p, hi), body, done)
            builder.position_at_end(body)
            v = builder.load(builder.gep(vp, [p]), align=4)
            row = builder.sext(builder.load(builder.gep(wp, [p]), align=4), _I64)
            rp = builder.bitcast(builder.gep(sp, [builder.mul(row, ld)]), ir.PointerType(vt))
            summed = builder.call(fmuladd, [_splat(builder, v, vt), builder.load(rp, align=4),
                                            acc])
            p.add_incoming(builder.add(p, ir.Constant(_I64, 1)), body)
            acc.add_incoming(summed, body)
            builder.branch(head)
            builder.position_at_end(done)
            builder.store(acc, builder.bitcast(builder.gep(op, [at]), ir.PointerType(vt)),
                          align=4)
            return context.get_dummy_value()

        return sig, codegen

    row_sum.__doc__ = (f"out.flat[at:at + {width}] = Σ values[p] · src.flat[which[p] · ld + col "
                       f"+ 0..{width - 1}] over p in lo..hi-1 (0 when the range is empty); "
                       f"src's rows ld entries apart.")
    return row_sum


row_sum128, row_sum64, row_sum16 = _row_sum(128), _row_sum(64), _row_sum(16)


def _tile(pixels: int):
    @intrinsic
    def tile(typingctx, out, o, ostride, x, xo, xstride, offs, w, w0, wstride, count):
        if not (_float_array(out) and _float_array(x) and _float_array(w)
                and out.dtype == x.dtype == w.dtype and _int32_array(offs)
                and all(isinstance(t, types.Integer)
                        for t in (o, ostride, xo, xstride, w0, wstride, count))):
            return None
        sig = types.void(out, o, ostride, x, xo, xstride, offs, w, w0, wstride, count)

        def codegen(context, builder, sig, args):
            op, xp, fp, wp = (_data(context, builder, sig.args[i], args[i]) for i in (0, 3, 6, 7))
            vt = ir.VectorType(op.type.pointee, TILE)
            vp = ir.PointerType(vt)
            o, ostride, xo, xstride, w0, wstride, count = _intps(
                context, builder, sig, args, 1, 2, 4, 5, 8, 9, 10)
            fmuladd = _declare(builder.module, "llvm.fmuladd." + _vector_name(vt),
                               ir.FunctionType(vt, [vt, vt, vt]))
            outs = [builder.bitcast(builder.gep(op, [builder.add(o, builder.mul(
                ir.Constant(_I64, p), ostride))]), vp) for p in range(pixels)]
            bases = [builder.gep(xp, [builder.add(xo, builder.mul(ir.Constant(_I64, p),
                                                                  xstride))])
                     for p in range(pixels)]
            wp = builder.gep(wp, [w0])
            before = builder.basic_block
            head = builder.append_basic_block("tile.head")
            body = builder.append_basic_block("tile.body")
            done = builder.append_basic_block("tile.done")
            first = [builder.load(ptr, align=4) for ptr in outs]
            builder.branch(head)
            builder.position_at_end(head)
            t = builder.phi(_I64)
            t.add_incoming(ir.Constant(_I64, 0), before)
            accs = []
            for value in first:
                acc = builder.phi(vt)
                acc.add_incoming(value, before)
                accs.append(acc)
            builder.cbranch(builder.icmp_signed("<", t, count), body, done)
            builder.position_at_end(body)
            off = builder.sext(builder.load(builder.gep(fp, [t]), align=4), _I64)
            row = builder.load(builder.bitcast(builder.gep(wp, [builder.mul(t, wstride)]), vp),
                               align=4)
            for base, acc in zip(bases, accs):
                v = builder.load(builder.gep(base, [off]), align=4)
                acc.add_incoming(builder.call(fmuladd, [_splat(builder, v, vt), row, acc]),
                                 body)
            t.add_incoming(builder.add(t, ir.Constant(_I64, 1)), body)
            builder.branch(head)
            builder.position_at_end(done)
            for ptr, acc in zip(outs, accs):
                builder.store(acc, ptr, align=4)
            return context.get_dummy_value()

        return sig, codegen

    tile.__doc__ = (f"For p in 0..{pixels - 1}: out.flat[o + p·ostride + 0..{TILE - 1}] += Σ "
                    f"x.flat[xo + p·xstride + offs[t]] · w.flat[w0 + t·wstride + 0..{TILE - 1}] "
                    f"over t in 0..count-1, the {pixels} × {TILE} sums in vector registers "
                    f"(kernels/conv_tiles.py).")
    return tile


TILE = 32
tile4 = _tile(4)


_TURNED = (types.float32, types.float64, types.uint8)


def _transpose_masks(h: int) -> tuple[list[int], list[int]]:
    """The two shuffles of a pair of rows (i, i + h) at one level of the 16 × 16 transpose."""
    low, high = [], []
    for c in range(16):
        block, off = divmod(c, 2 * h)
        if off < h:
            low.append(block * 2 * h + off)
            high.append(block * 2 * h + h + off)
        else:
            low.append(16 + block * 2 * h + off - h)
            high.append(16 + block * 2 * h + off)
    return low, high


@intrinsic
def transpose16(typingctx, src, s_at, lds, dst, d_at, ldd):
    """dst.flat[d_at + c · ldd + r] = src.flat[s_at + r · lds + c] for r, c in 0..15 (float32,
    float64 or uint8; src and dst of one type):
    16 rows loaded as vectors, exchanged in four levels of shuffles (rows i and i + h swap their
    alternate runs of h entries, h = 8, 4, 2, 1), stored as 16 rows."""
    if not (isinstance(src, types.Array) and src.dtype in _TURNED
            and isinstance(dst, types.Array) and dst.dtype == src.dtype
            and all(isinstance(t, types.Integer) for t in (s_at, lds, d_at, ldd))):
        return None
    sig = types.void(src, s_at, lds, dst, d_at, ldd)
    size = src.dtype.bitwidth // 8

    def codegen(context, builder, sig, args):
        sp, dp = (_data(context, builder, sig.args[i], args[i]) for i in (0, 3))
        s_at, lds, d_at, ldd = _intps(context, builder, sig, args, 1, 2, 4, 5)
        vt = ir.VectorType(context.get_data_type(sig.args[0].dtype), 16)
        rows = []
        for r in range(16):
            at = builder.add(s_at, builder.mul(lds, ir.Constant(_I64, r)))
            rows.append(builder.load(builder.bitcast(builder.gep(sp, [at]),
                                                     ir.PointerType(vt)), align=size))
        for h in (8, 4, 2, 1):
            low, high = _transpose_masks(h)
            new = list(rows)
            for i in range(16):
                if i & h:
                    continue
                a, b = rows[i], rows[i + h]
                new[i] = builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(_I32, 16), low))
                new[i + h] = builder.shuffle_vector(a, b,
                                                    ir.Constant(ir.VectorType(_I32, 16), high))
            rows = new
        for r in range(16):
            at = builder.add(d_at, builder.mul(ldd, ir.Constant(_I64, r)))
            builder.store(rows[r], builder.bitcast(builder.gep(dp, [at]), ir.PointerType(vt)),
                          align=size)
        return context.get_dummy_value()

    return sig, codegen


@njit(inline="always")
def transpose_block(src, sr, sc, dst, dr, dc, rows, cols):
    """dst[dr + c, dc + r] = src[sr + r, sc + c] for r < rows, c < cols (2-D arrays of one of
    transpose16's types, rows contiguous): 16 × 16 tiles by transpose16, the edges one by
    one."""
    lds = src.strides[0] // src.itemsize
    ldd = dst.strides[0] // dst.itemsize
    full_r = rows - rows % 16
    full_c = cols - cols % 16
    for r0 in range(0, full_r, 16):
        for c0 in range(0, full_c, 16):
            transpose16(src, (sr + r0) * lds + sc + c0, lds, dst, (dr + c0) * ldd + dc + r0, ldd)
    for r in range(rows):
        for c in range(full_c if r < full_r else 0, cols):
            dst[dr + c, dc + r] = src[sr + r, sc + c]
