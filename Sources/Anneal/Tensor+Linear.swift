// Products: matmul (2-D, batched, broadcast), the fused linear layer
// y = x·Wᵀ + b, and fused causal attention, each with its pullback written
// as further GEMMs. Weight-gradient GEMMs run only for inputs that need them.

import Foundation

extension Tensor {
    /// op(A)·op(B) over trailing matrix axes; leading (batch) axes must match,
    /// or one side is a plain matrix shared by every batch item.
    /// `transposeA`/`transposeB` read the stored matrix as transposed (no copy).
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        require(a.rank >= 2 && b.rank >= 2, "matmul needs matrices, got shapes \(a.shape) and \(b.shape)")
        // A stack of row-major matrices times one matrix is one big GEMM.
        if a.rank > 2 && b.rank == 2 && !transposeA {
            let flat = a.reshaped([a.count / a.shape[a.rank - 1], a.shape[a.rank - 1]])
            let y = matmul(flat, b, transposeB: transposeB)
            return y.reshaped(Array(a.shape.dropLast()) + [y.shape[1]])
        }
        let leadA = Array(a.shape.dropLast(2)), leadB = Array(b.shape.dropLast(2))
        require(leadA == leadB || leadA.isEmpty || leadB.isEmpty,
                     "matmul: batch axes of \(a.shape) and \(b.shape) do not match")
        let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        let (m, k) = transposeA ? (ac, ar) : (ar, ac)
        let (k2, n) = transposeB ? (bc, br) : (br, bc)
        require(k == k2, "matmul: inner dimensions differ for shapes \(a.shape)\(transposeA ? "ᵀ" : "") and \(b.shape)\(transposeB ? "ᵀ" : "")")
        let lead = leadA.isEmpty ? leadB : leadA
        let batch = Shape.count(lead)
        let out = Tensor(uninitializedShape: lead + [m, n])
        Runtime.backend.gemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k, alpha: 1,
                             a: a.ptr, lda: ac, strideA: leadA.isEmpty ? 0 : ar * ac,
                             b: b.ptr, ldb: bc, strideB: leadB.isEmpty ? 0 : br * bc,
                             beta: 0, c: out.storage.base, ldc: n, strideC: m * n, batch: batch)
        guard needsGraph(a, b) else { return out }
        let (ad, bd) = (a.detached(), b.detached())
        return out.recorded("matmul", [a, b]) { g, needs in
            // C = op(A)·op(B):  d op(A) = G·op(B)ᵀ,  d op(B) = op(A)ᵀ·G.
            var da: Tensor? = nil, db: Tensor? = nil
            if needs[0] {
                da = transposeA ? matmul(bd, g, transposeA: transposeB, transposeB: true)
                                : matmul(g, bd, transposeB: !transposeB)
                if leadA.isEmpty && !lead.isEmpty { da = da!.reshaped([batch, ar, ac]).sum(axis: 0) }
            }
            if needs[1] {
                db = transposeB ? matmul(g, ad, transposeA: true, transposeB: transposeA)
                                : matmul(ad, g, transposeA: !transposeA)
                if leadB.isEmpty && !lead.isEmpty { db = db!.reshaped([batch, br, bc]).sum(axis: 0) }
            }
            return [da, db]
        }
    }

    /// y = x·Wᵀ + b for x [..., in], weight [out, in], bias [out]: one GEMM with
    /// the bias preloaded into C (β = 1). Pullback: dx = dy·W, dW = dyᵀ·x, db = Σ dy.
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
        let inF = weight.shape[1], outF = weight.shape[0]
        require(weight.rank == 2 && x.rank >= 1 && x.shape[x.rank - 1] == inF,
                     "linear: input \(x.shape) does not fit weight \(weight.shape)")
        if let bias { require(bias.shape == [outF], "linear: bias \(bias.shape) for weight \(weight.shape)") }
        let rows = x.count / inF
        let outShape = Array(x.shape.dropLast()) + [outF]
        let y = Tensor(uninitializedShape: outShape)
        if let bias {
            for r in 0..<rows { (y.storage.base + r * outF).update(from: bias.ptr, count: outF) }
        }
        Runtime.backend.gemm(transA: false, transB: true, m: rows, n: outF, k: inF, alpha: 1,
                             a: x.ptr, lda: inF, strideA: 0, b: weight.ptr, ldb: inF, strideB: 0,
                             beta: bias == nil ? 0 : 1, c: y.storage.base, ldc: outF, strideC: 0, batch: 1)
        guard needsGraph(x, weight, bias) else { return y }
        let (xd, wd) = (x.detached(), weight.detached())
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        return y.recorded("linear", inputs) { g, needs in
            let backend = Runtime.backend
            var grads: [Tensor?] = [nil, nil, nil]
            if needs[0] {
                let dx = Tensor(uninitializedShape: xd.shape)
                backend.gemm(transA: false, transB: false, m: rows, n: inF, k: outF, alpha: 1,
                             a: g.ptr, lda: outF, strideA: 0, b: wd.ptr, ldb: inF, strideB: 0,
                             beta: 0, c: dx.storage.base, ldc: inF, strideC: 0, batch: 1)
                grads[0] = dx
            }
            if needs[1] {
                let dw = Tensor(uninitializedShape: [outF, inF])
                backend.gemm(transA: true, transB: false, m: outF, n: inF, k: rows, alpha: 1,
                             a: g.ptr, lda: outF, strideA: 0, b: xd.ptr, ldb: inF, strideB: 0,
                             beta: 0, c: dw.storage.base, ldc: inF, strideC: 0, batch: 1)
                grads[1] = dw
            }
            if needs.count > 2 && needs[2] {
                let db = Tensor(uninitializedShape: [outF])
                backend.reduce(.sum, g.ptr, outer: 1, length: rows, inner: outF, db.storage.base, argmax: nil)
                grads[2] = db
            }
            return Array(grads.prefix(needs.count))
        }
    }

    /// softmax(q·kᵀ·scale + causal mask)·v for q, k, v [B, H, T, Dh] (fused).
    public static func causalAttention(q: Tensor, k: Tensor, v: Tensor, scale: Float) -> Tensor {
        attention(q: q, k: k, v: v, scale: scale, causal: true)
    }

    /// Scaled dot-product attention softmax(q·kᵀ·scale + mask)·v for q, k, v
    /// [B, H, T, Dh] (fused). The mask hides keys after the query (`causal`)
    /// and keys at positions ≥ `keyLengths[b]` of batch item b (right padding).
    /// Saves the probabilities P [B·H, T, T] for the pullback:
    /// dV = Pᵀ·dO, dP = dO·Vᵀ, dS = P⊙(dP − Σ dP⊙P)·scale, dQ = dS·K, dK = dSᵀ·Q.
    public static func attention(q: Tensor, k: Tensor, v: Tensor, scale: Float, causal: Bool,
                                 keyLengths: [Int]? = nil) -> Tensor {
        require(q.rank == 4 && q.shape == k.shape && q.shape == v.shape,
                "attention: q \(q.shape), k \(k.shape), v \(v.shape) must be equal [B, H, T, Dh]")
        let dims = AttentionDims(q.shape, keyLengths: keyLengths)
        let (out, p) = dims.forward(q: q.ptr, k: k.ptr, v: v.ptr, scale: scale, causal: causal, keyLengths: keyLengths)
        guard needsGraph(q, k, v) else { return out }
        let (qd, kd, vd) = (q.detached(), k.detached(), v.detached())
        return out.recorded(causal ? "causal_attention" : "attention", [q, k, v]) { g, needs in
            let grads = needs.map { $0 ? Tensor(uninitializedShape: qd.shape) : nil }
            dims.backward(g: g, p: p, q: qd.ptr, k: kd.ptr, v: vd.ptr, scale: scale,
                          dq: grads[0]?.storage.base, dk: grads[1]?.storage.base, dv: grads[2]?.storage.base)
            return grads
        }
    }

    /// Causal attention on q, k and v packed in one tensor [3, B, H, T, Dh]
    /// (as a fused qkv projection gives them after one permute); returns
    /// [B, H, T, Dh]. The same math as `attention(q:k:v:)`, but the gradient
    /// is one [3, B, H, T, Dh] tensor written slab by slab, with no split,
    /// zero padding or accumulation of three partial gradients.
    public static func causalAttention(packed qkv: Tensor, scale: Float) -> Tensor {
        require(qkv.rank == 5 && qkv.shape[0] == 3, "attention: packed qkv \(qkv.shape) must be [3, B, H, T, Dh]")
        let shape = Array(qkv.shape.dropFirst())
        let dims = AttentionDims(shape, keyLengths: nil)
        let slab = Shape.count(shape)
        let (out, p) = dims.forward(q: qkv.ptr, k: qkv.ptr + slab, v: qkv.ptr + 2 * slab, scale: scale,
                                    causal: true, keyLengths: nil)
        guard needsGraph(qkv) else { return out }
        let qkvd = qkv.detached()
        return out.recorded("causal_attention", [qkv]) { g, _ in
            let d = Tensor(uninitializedShape: qkvd.shape)
            let base = d.storage.base
            dims.backward(g: g, p: p, q: qkvd.ptr, k: qkvd.ptr + slab, v: qkvd.ptr + 2 * slab, scale: scale,
                          dq: base, dk: base + slab, dv: base + 2 * slab)
            return [d]
        }
    }
}

/// Sizes of one attention call, and its forward and backward on raw q, k, v
/// buffers of [B·H, T, Dh] each.
struct AttentionDims {
    let batch: Int, heads: Int, t: Int, d: Int
    var bh: Int { batch * heads }

    init(_ shape: [Int], keyLengths: [Int]?) {
        (batch, heads, t, d) = (shape[0], shape[1], shape[2], shape[3])
        if let keyLengths {
            require(keyLengths.count == batch && keyLengths.allSatisfy { $0 >= 1 && $0 <= t },
                    "attention: key lengths \(keyLengths) for shape \(shape)")
        }
    }

    /// O = softmax(Q·Kᵀ·scale + mask)·V [B, H, T, Dh] and the probabilities P [B·H, T, T].
    func forward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, scale: Float,
                 causal: Bool, keyLengths: [Int]?) -> (out: Tensor, p: Tensor) {
        let backend = Runtime.backend
        let p = Tensor(uninitializedShape: [bh, t, t])
        backend.gemm(transA: false, transB: true, m: t, n: t, k: d, alpha: scale,
                     a: q, lda: d, strideA: t * d, b: k, ldb: d, strideB: t * d,
                     beta: 0, c: p.storage.base, ldc: t, strideC: t * t, batch: bh)
        if let keyLengths {   // padded keys get −∞ scores, hence probability 0
            for i in 0..<bh where keyLengths[i / heads] < t {
                let len = keyLengths[i / heads]
                for r in 0..<t { (p.storage.base + (i * t + r) * t + len).update(repeating: -.infinity, count: t - len) }
            }
        }
        backend.softmax(p.ptr, p.storage.base, rows: bh * t, cols: t, log: false, causal: causal)
        let out = Tensor(uninitializedShape: [batch, heads, t, d])
        backend.gemm(transA: false, transB: false, m: t, n: d, k: t, alpha: 1,
                     a: p.ptr, lda: t, strideA: t * t, b: v, ldb: d, strideB: t * d,
                     beta: 0, c: out.storage.base, ldc: d, strideC: t * d, batch: bh)
        return (out, p)
    }

    /// Writes dQ, dK, dV (each [B·H, T, Dh]) for the output gradient g where asked.
    func backward(g: Tensor, p: Tensor, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                  scale: Float, dq: UnsafeMutablePointer<Float>?, dk: UnsafeMutablePointer<Float>?,
                  dv: UnsafeMutablePointer<Float>?) {
        let backend = Runtime.backend
        if let dv {
            backend.gemm(transA: true, transB: false, m: t, n: d, k: t, alpha: 1,
                         a: p.ptr, lda: t, strideA: t * t, b: g.ptr, ldb: d, strideB: t * d,
                         beta: 0, c: dv, ldc: d, strideC: t * d, batch: bh)
        }
        guard dq != nil || dk != nil else { return }
        let dp = Tensor(uninitializedShape: [bh, t, t])
        backend.gemm(transA: false, transB: true, m: t, n: t, k: d, alpha: 1,
                     a: g.ptr, lda: d, strideA: t * d, b: v, ldb: d, strideB: t * d,
                     beta: 0, c: dp.storage.base, ldc: t, strideC: t * t, batch: bh)
        backend.softmaxBackward(y: p.ptr, dy: dp.ptr, dx: dp.storage.base, rows: bh * t, cols: t, log: false)
        if let dq {
            backend.gemm(transA: false, transB: false, m: t, n: d, k: t, alpha: scale,
                         a: dp.ptr, lda: t, strideA: t * t, b: k, ldb: d, strideB: t * d,
                         beta: 0, c: dq, ldc: d, strideC: t * d, batch: bh)
        }
        if let dk {
            backend.gemm(transA: true, transB: false, m: t, n: d, k: t, alpha: scale,
                         a: dp.ptr, lda: t, strideA: t * t, b: q, ldb: d, strideB: t * d,
                         beta: 0, c: dk, ldc: d, strideC: t * d, batch: bh)
        }
    }
}
