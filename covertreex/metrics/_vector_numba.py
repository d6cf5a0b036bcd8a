"""A dot product of two feature-row segments in eight interleaved float64 lanes, as LLVM vector code.

Lane l accumulates the products of the elements ``start + l, start + l + 8, ...`` (a multiply, then an
add: never a fused multiply-add, since Numba does not allow contraction), the tail elements go into
lane 0, and the lanes are summed as ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)).  That is the
arithmetic of eight scalar accumulators, operation for operation, so the result is bit-identical to
the scalar loop; written as one ``<8 x double>`` accumulator the loop runs on the SIMD units, which
LLVM's vectorisers do not manage for the scalar form (it must not reassociate a reduction).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

LANES = 8


def _row_pointer(context, builder, arrty, arr, row, col):
    """Pointer to ``arr[row, col]`` (C-contiguous rows) as a double*."""
    array = context.make_array(arrty)(context, builder, arr)
    return cgutils.get_item_pointer2(context, builder, array.data, cgutils.unpack_tuple(builder, array.shape),
                                     cgutils.unpack_tuple(builder, array.strides), arrty.layout, [row, col])


@intrinsic
def lane_dot(typingctx, A, i, B, j, start, count):
    """sum_t A[i, start + t] * B[j, start + t], t < count, in eight lanes (see the module docstring).
    ``A`` and ``B``: 2-D float64 arrays whose rows are contiguous (layout "C")."""
    ok = all(isinstance(a, types.Array) and a.ndim == 2 and a.dtype == types.float64 and a.layout == "C"
             for a in (A, B))
    if not ok or not all(isinstance(x, types.Integer) for x in (i, j, start, count)):
        return None
    sig = types.float64(A, i, B, j, start, count)

    def codegen(context, builder, signature, args):
        a, ai, b, bj, st, cnt = args
        intp = context.get_value_type(types.intp)
        ai, bj, st, cnt = (context.cast(builder, v, t, types.intp)
                           for v, t in zip((ai, bj, st, cnt), (signature.args[1], signature.args[3],
                                                                 signature.args[4], signature.args[5])))
        pa = _row_pointer(context, builder, signature.args[0], a, ai, st)
        pb = _row_pointer(context, builder, signature.args[2], b, bj, st)
        dbl = ir.DoubleType()
        vec = ir.VectorType(dbl, LANES)
        acc = cgutils.alloca_once_value(builder, ir.Constant(vec, [0.0] * LANES))
        blocks = builder.sdiv(cnt, ir.Constant(intp, LANES))
        with cgutils.for_range(builder, blocks) as loop:
            offset = builder.mul(loop.index, ir.Constant(intp, LANES))
            va = builder.load(builder.bitcast(builder.gep(pa, [offset]), vec.as_pointer()), align=8)
            vb = builder.load(builder.bitcast(builder.gep(pb, [offset]), vec.as_pointer()), align=8)
            builder.store(builder.fadd(builder.load(acc), builder.fmul(va, vb)), acc)
        total = builder.load(acc)
        lanes = [builder.extract_element(total, ir.Constant(ir.IntType(32), lane)) for lane in range(LANES)]
        s0 = cgutils.alloca_once_value(builder, lanes[0])
        done = builder.mul(blocks, ir.Constant(intp, LANES))
        with cgutils.for_range(builder, builder.sub(cnt, done)) as loop:
            t = builder.add(done, loop.index)
            prod = builder.fmul(builder.load(builder.gep(pa, [t])), builder.load(builder.gep(pb, [t])))
            builder.store(builder.fadd(builder.load(s0), prod), s0)
        lanes[0] = builder.load(s0)
        left = builder.fadd(builder.fadd(lanes[0], lanes[1]), builder.fadd(lanes[2], lanes[3]))
        right = builder.fadd(builder.fadd(lanes[4], lanes[5]), builder.fadd(lanes[6], lanes[7]))
        return builder.fadd(left, right)

    return sig, codegen
