// The Backend protocol: the narrow kernel surface every tensor op runs on.
// Kernels work on contiguous row-major Float32 buffers; higher layers never
// call BLAS or LAPACK directly.

import Foundation

/// Elementwise functions y = f(x). Each case's derivative f′ sits beside f in
/// `Kernels.unary` / `Kernels.unaryBackward`.
public enum UnaryOp: Sendable, Equatable, CustomStringConvertible {
    case neg, exp, log, sqrt, tanh, sigmoid, relu, logSigmoid, silu, abs
    /// GELU with the tanh approximation: ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
    case geluTanh
    /// Exact GELU: x·Φ(x) = ½x(1 + erf(x/√2)).
    case geluErf
    /// xᵖ for a constant p.
    case pow(Float)
    /// s·x.
    case scale(Float)
    /// x + s.
    case addScalar(Float)
    /// min(max(x, lo), hi); the gradient passes where lo < x < hi.
    case clamp(Float, Float)

    public var description: String {
        switch self {
        case .neg: "neg"; case .exp: "exp"; case .log: "log"; case .sqrt: "sqrt"
        case .tanh: "tanh"; case .sigmoid: "sigmoid"; case .relu: "relu"
        case .logSigmoid: "logsigmoid"; case .silu: "silu"; case .abs: "abs"
        case .geluTanh: "gelu_tanh"; case .geluErf: "gelu"; case .pow: "pow"
        case .scale: "scale"; case .addScalar: "add_scalar"; case .clamp: "clamp"
        }
    }
}

/// Elementwise functions z = f(a, b) with numpy broadcasting. Comparisons
/// give 1 where true and 0 elsewhere.
public enum BinaryOp: Sendable, Equatable, CustomStringConvertible {
    case add, sub, mul, div, maximum, minimum
    case equal, less, lessEqual, greater, greaterEqual

    public var description: String {
        switch self {
        case .add: "add"; case .sub: "sub"; case .mul: "mul"; case .div: "div"
        case .maximum: "maximum"; case .minimum: "minimum"; case .equal: "eq"
        case .less: "lt"; case .lessEqual: "le"; case .greater: "gt"; case .greaterEqual: "ge"
        }
    }
}

/// Reductions along one axis of a tensor seen as [outer, length, inner].
public enum ReduceOp: Sendable, Equatable { case sum, mean, max }

/// Failures of the dense linear-algebra kernels.
public struct LinearAlgebraError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The kernels a compute backend provides. All buffers are contiguous,
/// row-major Float32; sizes are in elements. Implementations must be safe
/// to call from one thread at a time per call (they may use threads inside).
public protocol Backend: AnyObject, Sendable {
    /// Short name: "openblas" or "reference".
    var name: String { get }
    /// Worker threads used inside kernels.
    var threads: Int { get set }

    /// Batched C[i] = α·op(A[i])·op(B[i]) + β·C[i] for i in 0..<batch, row-major.
    /// op(A) is m×k (stored k×m when `transA`), op(B) is k×n (stored n×k when
    /// `transB`). `strideA/B/C` are element offsets between batch items (0 to
    /// reuse one matrix for every item).
    func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
              a: UnsafePointer<Float>, lda: Int, strideA: Int,
              b: UnsafePointer<Float>, ldb: Int, strideB: Int,
              beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int, batch: Int)

    /// y[i] = f(x[i]) for i < count. `y` may alias `x`.
    func unary(_ op: UnaryOp, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int)
    /// dx[i] = dy[i]·f′(x[i]) (y = f(x) is passed for ops whose derivative uses it).
    func unaryBackward(_ op: UnaryOp, x: UnsafePointer<Float>, y: UnsafePointer<Float>,
                       dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int)

    /// out[idx] = f(a[idx·aStrides], b[idx·bStrides]) over `shape` (out is
    /// contiguous; a stride of 0 broadcasts that axis).
    func binary(_ op: BinaryOp, _ a: UnsafePointer<Float>, aStrides: [Int],
                _ b: UnsafePointer<Float>, bStrides: [Int],
                _ out: UnsafeMutablePointer<Float>, shape: [Int])

    /// Reduces x viewed as [outer, length, inner] along the middle axis into
    /// out [outer, inner]. For `.max`, `argmax` (if given) receives the first
    /// index of the maximum.
    func reduce(_ op: ReduceOp, _ x: UnsafePointer<Float>, outer: Int, length: Int, inner: Int,
                _ out: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?)

    /// Copies x (shape `shape`) to y with its axes permuted: y's axis i is x's axis `perm[i]`.
    func permute(_ x: UnsafePointer<Float>, shape: [Int], perm: [Int], _ y: UnsafeMutablePointer<Float>)

    /// out[i, :] = table[indices[i], :] for i < count; rows have `width` elements.
    func gatherRows(_ table: UnsafePointer<Float>, width: Int, indices: UnsafePointer<Int32>,
                    count: Int, _ out: UnsafeMutablePointer<Float>)
    /// table[indices[i], :] += src[i, :] for i < count (repeated indices accumulate).
    func scatterAddRows(_ src: UnsafePointer<Float>, width: Int, indices: UnsafePointer<Int32>,
                        count: Int, _ table: UnsafeMutablePointer<Float>)

    /// Row-wise softmax (or log-softmax) of x [rows, cols]. With `causal`, row r
    /// only sees columns ≤ r mod cols (the rest get probability 0 / log −∞).
    func softmax(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, cols: Int,
                 log: Bool, causal: Bool)
    /// dx from y = softmax(x) (or log-softmax) and dy:
    /// softmax dx = y⊙(dy − Σ dy⊙y); log-softmax dx = dy − eʸ·Σ dy.
    func softmaxBackward(y: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                         rows: Int, cols: Int, log: Bool)

    /// Layer norm over the last axis of x [rows, cols]:
    /// y = (x − μ)·rstd·w + b with rstd = 1/√(σ² + eps); saves μ and rstd per row.
    func layerNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?,
                   _ y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                   rstd: UnsafeMutablePointer<Float>, rows: Int, cols: Int, eps: Float)
    /// Backward of `layerNorm`: writes dx (if given) and accumulates dweight, dbias (if given).
    func layerNormBackward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>?,
                           mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                           dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                           dweight: UnsafeMutablePointer<Float>?, dbias: UnsafeMutablePointer<Float>?,
                           rows: Int, cols: Int)

    /// Cross-entropy of logits [rows, cols] against class targets:
    /// losses[r] = logsumexp(x[r]) − x[r, t[r]], and probs = softmax(x).
    /// A negative target marks an ignored row (loss 0, probs still written).
    func crossEntropy(_ logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, rows: Int, cols: Int,
                      losses: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>)

    /// Solves A X = B for symmetric positive-definite A [n, n] by Cholesky;
    /// B [n, nrhs] is overwritten with X. A is overwritten with its factor.
    func choleskySolve(_ a: UnsafeMutablePointer<Float>, n: Int, _ b: UnsafeMutablePointer<Float>, nrhs: Int) throws
    /// Least squares: minimises ‖A X − B‖ for A [m, n] (m ≥ n, full rank) and
    /// B [m, nrhs]; X [n, nrhs] is written to `x`.
    func leastSquares(_ a: UnsafePointer<Float>, m: Int, n: Int, _ b: UnsafePointer<Float>, nrhs: Int,
                      _ x: UnsafeMutablePointer<Float>) throws
    /// Symmetric eigendecomposition of A [n, n]: eigenvalues ascending into
    /// `values` [n], eigenvectors as columns of `vectors` [n, n].
    func symmetricEigen(_ a: UnsafePointer<Float>, n: Int, values: UnsafeMutablePointer<Float>,
                        vectors: UnsafeMutablePointer<Float>) throws
}
