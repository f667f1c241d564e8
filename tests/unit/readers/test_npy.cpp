#include "nusky/npy.hpp"

#include "nusky/error.hpp"
#include "../test_paths.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

using nusky::Error;

namespace {

std::string scratch(const std::string& name) { return (nusky::test::scratch_dir() / ("test_npy_" + name)).string(); }

std::string slurp(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void spit(const std::string& path, const std::string& bytes)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
}

std::string doubles(std::initializer_list<double> v)
{
    std::string s;
    for (double x : v) s.append(reinterpret_cast<const char*>(&x), 8);
    return s;
}

// Expects read_npy(path) to throw a nusky::Error whose message starts with the path and
// contains `needle`.
void expect_error(const std::string& path, const std::string& needle)
{
    try {
        nusky::read_npy(path);
        FAIL() << "no error for " << path;
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
        EXPECT_NE(msg.find(needle), std::string::npos) << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
}

}  // namespace

TEST(NpyReader, ReadsThePi0Map)
{
    const std::string path = nusky::test::repo_data("gp2023/Fermi-LAT_pi0_map.npy");
    const nusky::NpyArray a = nusky::read_npy(path);
    ASSERT_EQ(a.shape.size(), 1u);
    EXPECT_EQ(a.shape[0], 196608u);
    EXPECT_FALSE(a.structured());
    ASSERT_EQ(a.count(), 196608u);
    // normalised so that sum * pixel area = 1
    EXPECT_NEAR(a.columns[0].sum() * 4 * M_PI / 196608.0, 1.0, 1e-9);
    EXPECT_TRUE((a.columns[0] >= 0).all());

    int nside = 0;
    const Eigen::ArrayXd m = nusky::read_healpix_map_npy(path, &nside);
    EXPECT_EQ(nside, 128);
    EXPECT_EQ(m.size(), 196608);
}

TEST(NpyReader, HeaderOfThePi0Map)
{
    const std::string bytes = slurp(nusky::test::repo_data("gp2023/Fermi-LAT_pi0_map.npy"));
    const nusky::NpyHeader h = nusky::parse_npy_header(bytes.data(), bytes.size(), "pi0");
    EXPECT_EQ(h.major, 1);
    EXPECT_EQ(h.minor, 0);
    EXPECT_EQ(h.data_offset, 80u);
    EXPECT_FALSE(h.fortran_order);
    EXPECT_FALSE(h.structured);
    EXPECT_EQ(h.itemsize, 8u);
    EXPECT_EQ(h.count, 196608u);
    ASSERT_EQ(h.fields.size(), 1u);
    EXPECT_EQ(h.fields[0].type.kind, 'f');
}

TEST(NpyReader, PlainRoundTripAllTypesAndVersions)
{
    Eigen::ArrayXd v(6);
    v << -3, 0, 1, 2, 17, 123456;
    for (int version : {1, 2, 3})
        for (const char* dtype : {"<f8", "<f4", "<i8", "<i4", "<i2", "<u4", "|u1"}) {
            const std::string p = scratch(std::string("plain_") + std::to_string(version) + "_" +
                                          (dtype + 1) + ".npy");
            Eigen::ArrayXd w = v;
            if (dtype[1] == 'u') w = v.abs().min(200.0);
            if (std::string(dtype) == "<i2") w = v.min(30000.0);
            nusky::write_npy(p, w, {2, 3}, dtype, version);
            const std::string bytes = slurp(p);
            const auto h = nusky::parse_npy_header(bytes.data(), bytes.size(), p);
            EXPECT_EQ(h.major, version);
            EXPECT_EQ(h.data_offset % 64, 0u);
            const nusky::NpyArray a = nusky::read_npy(p);
            ASSERT_EQ(a.shape, (std::vector<std::size_t>{2, 3})) << dtype;
            ASSERT_EQ(a.count(), 6u);
            for (int i = 0; i < 6; ++i) EXPECT_EQ(a.columns[0][i], w[i]) << dtype << " " << i;
        }
}

TEST(NpyReader, Version2HeaderByHand)
{
    // A version 2.0 header (uint32 length), a 0-d and an empty array.
    const std::string p = scratch("v2.npy");
    nusky::write_npy_raw(p, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", doubles({2.5}), 2);
    const std::string bytes = slurp(p);
    EXPECT_EQ(bytes[6], 2);
    const auto a = nusky::read_npy(p);
    EXPECT_TRUE(a.shape.empty());
    ASSERT_EQ(a.count(), 1u);
    EXPECT_EQ(a.columns[0][0], 2.5);

    nusky::write_npy_raw(p, "{\"shape\": (0,), \"fortran_order\": False, \"descr\": \"<i8\"}", "", 1);
    EXPECT_EQ(nusky::read_npy(p).count(), 0u);

    // Fortran order is harmless in 1-D.
    nusky::write_npy_raw(p, "{'descr': '<f8', 'fortran_order': True, 'shape': (2,), }", doubles({1, 2}));
    EXPECT_EQ(nusky::read_npy(p).columns[0][1], 2.0);
}

TEST(NpyReader, StructuredRoundTrip)
{
    const std::string p = scratch("events.npy");
    const int n = 1000;
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<double> u(-1, 1);
    Eigen::ArrayXd ra(n), dec(n), logE(n), run(n), flag(n);
    for (int i = 0; i < n; ++i) {
        ra[i] = M_PI * (u(rng) + 1);
        dec[i] = std::asin(u(rng));
        logE[i] = 3 + u(rng);
        run[i] = 100000 + i;
        flag[i] = i % 2;
    }
    for (int version : {1, 2}) {
        nusky::write_npy_structured(p, {{"ra", "<f8"}, {"dec", "<f8"}, {"logE", "<f4"}, {"run", "<i8"}, {"flag", "|b1"}},
                                    {ra, dec, logE, run, flag}, version);
        const nusky::NpyArray a = nusky::read_npy(p);
        EXPECT_TRUE(a.structured());
        ASSERT_EQ(a.names, (std::vector<std::string>{"ra", "dec", "logE", "run", "flag"}));
        ASSERT_EQ(a.count(), std::size_t(n));
        EXPECT_TRUE((a.column("ra") == ra).all());
        EXPECT_TRUE((a.column("dec") == dec).all());
        EXPECT_TRUE((a.column("logE") == logE.cast<float>().cast<double>()).all());
        EXPECT_FALSE((a.column("logE") == logE).all());  // really stored as float32
        EXPECT_TRUE((a.column("run") == run).all());
        EXPECT_TRUE((a.column("flag") == flag).all());
        EXPECT_THROW(a.column("energy"), Error);
    }
}

TEST(NpyReader, StructuredWithPaddingAndNumpyStyleHeader)
{
    // As numpy writes an aligned dtype: a padding field ('', '|V4') between i4 and f8.
    const std::string p = scratch("aligned.npy");
    std::string payload;
    for (int i = 0; i < 3; ++i) {
        std::int32_t a = 10 * i;
        double b = 0.5 * i;
        payload.append(reinterpret_cast<const char*>(&a), 4);
        payload.append(4, '\0');
        payload.append(reinterpret_cast<const char*>(&b), 8);
    }
    nusky::write_npy_raw(p, "{'descr': [('a', '<i4'), ('', '|V4'), ('b', '<f8')], 'fortran_order': False, 'shape': (3,), }",
                         payload);
    const auto a = nusky::read_npy(p);
    ASSERT_EQ(a.names.size(), 2u);
    EXPECT_EQ(a.column("a")[2], 20.0);
    EXPECT_EQ(a.column("b")[2], 1.0);
    EXPECT_TRUE(a.skipped_fields.empty());
}

TEST(NpyReader, NonNumericRecordFieldsAreSkipped)
{
    // ('id', '|S3') and ('z', '<c8') between numeric fields: skipped, but named when asked for.
    const std::string p = scratch("strings.npy");
    std::string payload;
    for (int i = 0; i < 2; ++i) {
        double x = 1.5 + i;
        float z[2] = {1, 2};
        std::int32_t k = -7 * i;
        payload.append(reinterpret_cast<const char*>(&x), 8);
        payload.append("ab" + std::to_string(i));
        payload.append(reinterpret_cast<const char*>(z), 8);
        payload.append(reinterpret_cast<const char*>(&k), 4);
    }
    nusky::write_npy_raw(p, "{'descr': [('x', '<f8'), ('id', '|S3'), ('z', '<c8'), ('k', '<i4')], "
                            "'fortran_order': False, 'shape': (2,), }", payload);
    const auto a = nusky::read_npy(p);
    ASSERT_EQ(a.names, (std::vector<std::string>{"x", "k"}));
    EXPECT_EQ(a.column("x")[1], 2.5);
    EXPECT_EQ(a.column("k")[1], -7.0);
    EXPECT_EQ(a.skipped_fields.size(), 2u);
    try {
        a.column("id");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("not numeric"), std::string::npos) << e.what();
    }
}

TEST(NpyReader, BrokenFilesNameTheFile)
{
    const std::string p = scratch("broken.npy");
    const std::string good = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";

    nusky::write_npy_raw(p, good, doubles({1, 2}));  // 2 of 3 values
    expect_error(p, "truncated");

    nusky::write_npy_raw(p, good, doubles({1, 2, 3, 4}));
    expect_error(p, "shape mismatch");

    nusky::write_npy_raw(p, "{'descr': '>f8', 'fortran_order': False, 'shape': (3,), }", doubles({1, 2, 3}));
    expect_error(p, "big-endian");

    nusky::write_npy_raw(p, "{'descr': [('x', '<f8'), ('y', '>i4')], 'fortran_order': False, 'shape': (1,), }",
                         std::string(12, '\0'));
    expect_error(p, "big-endian");

    nusky::write_npy_raw(p, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", doubles({1, 2, 3, 4}));
    expect_error(p, "Fortran");

    nusky::write_npy_raw(p, "{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", std::string(16, '\0'));
    expect_error(p, "unsupported dtype");

    nusky::write_npy_raw(p, "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", std::string(8, '\0'));
    expect_error(p, "unsupported dtype");

    nusky::write_npy_raw(p, "{'descr': [('x', '<f8', (3,))], 'fortran_order': False, 'shape': (1,), }",
                         std::string(24, '\0'));
    expect_error(p, "sub-array");

    nusky::write_npy_raw(p, "{'descr': [('x', '<f8')], 'fortran_order': False, 'shape': (1, 1), }", doubles({1}));
    expect_error(p, "1-D");

    nusky::write_npy_raw(p, "{'descr': '<f8', 'shape': (3,), }", doubles({1, 2, 3}));
    expect_error(p, "fortran_order");

    nusky::write_npy_raw(p, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'extra': 1}", doubles({1, 2, 3}));
    expect_error(p, "extra");

    // bad magic
    std::string bytes = slurp(nusky::test::repo_data("gp2023/Fermi-LAT_pi0_map.npy"));
    bytes[1] = 'X';
    spit(p, bytes);
    expect_error(p, "magic");

    // header length beyond the end of the file
    bytes = slurp(nusky::test::repo_data("gp2023/Fermi-LAT_pi0_map.npy"));
    spit(p, bytes.substr(0, 40));
    expect_error(p, "truncated");
    spit(p, bytes.substr(0, 9));
    expect_error(p, "truncated");
    spit(p, bytes.substr(0, 1000));
    expect_error(p, "truncated");

    // unknown version
    bytes[6] = 4;
    spit(p, bytes);
    expect_error(p, "version");

    expect_error(scratch("does_not_exist.npy"), "cannot open");
}

TEST(NpyReader, HealpixMapSizeChecked)
{
    const std::string p = scratch("notamap.npy");
    nusky::write_npy(p, Eigen::ArrayXd::Ones(1000));
    try {
        nusky::read_healpix_map_npy(p);
        FAIL();
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_EQ(msg.rfind(p + ": ", 0), 0u) << msg;
        EXPECT_NE(msg.find("1000"), std::string::npos) << msg;
    }
    nusky::write_npy(p, Eigen::ArrayXd::Ones(12 * 16 * 16), {12 * 16, 16});  // 2-D
    EXPECT_THROW(nusky::read_healpix_map_npy(p), Error);
    nusky::write_npy(p, Eigen::ArrayXd::Ones(12 * 16 * 16));
    int nside = 0;
    EXPECT_EQ(nusky::read_healpix_map_npy(p, &nside).size(), 3072);
    EXPECT_EQ(nside, 16);
    EXPECT_EQ(nusky::healpix_nside_of_npix(12), 1);
    EXPECT_EQ(nusky::healpix_nside_of_npix(12 * 9), 3);
    EXPECT_EQ(nusky::healpix_nside_of_npix(0), -1);
    EXPECT_EQ(nusky::healpix_nside_of_npix(24), -1);
}

TEST(NpyReader, HeaderParserSurvivesGarbage)
{
    // Every prefix of a valid file, and random byte flips in the header, must give a
    // nusky::Error or a header whose data fit - never a crash (run under ASan to be sure).
    std::string good;
    {
        const std::string p = scratch("fuzzseed.npy");
        nusky::write_npy_structured(p, {{"a", "<f8"}, {"b", "<i4"}}, {Eigen::ArrayXd::Ones(4), Eigen::ArrayXd::Zero(4)});
        good = slurp(p);
    }
    for (std::size_t n = 0; n <= good.size(); ++n) {
        std::string prefix = good.substr(0, n);
        try {
            auto h = nusky::parse_npy_header(prefix.data(), prefix.size(), "f");
            EXPECT_LE(h.data_offset + h.count * h.itemsize, n);
        } catch (const Error&) {
        }
    }
    std::mt19937 rng(7);
    int ok = 0;
    for (int trial = 0; trial < 20000; ++trial) {
        std::string s = good;
        const int flips = 1 + int(rng() % 4);
        for (int f = 0; f < flips; ++f) s[rng() % 128] = char(rng() % 256);
        // copy into an exactly sized heap buffer so ASan would catch overreads
        std::vector<char> buf(s.begin(), s.end());
        try {
            auto a = nusky::parse_npy(buf.data(), buf.size(), "f");
            ++ok;
        } catch (const Error&) {
        }
    }
    EXPECT_GT(ok, 0);
}

// NpyFile reads the header only, then any block of rows: each block decodes to exactly the
// rows parse_npy gives for the whole file (odd record size, all types, versions 1 to 3).
TEST(NpyFile, BlocksEqualTheWholeFile)
{
    const std::string p = scratch("blocks.npy");
    const int n = 257;
    Eigen::ArrayXd a = Eigen::ArrayXd::LinSpaced(n, -3.0, 3.0);
    Eigen::ArrayXd k = Eigen::ArrayXd::LinSpaced(n, -100.0, 100.0).round();
    Eigen::ArrayXd u = Eigen::ArrayXd::LinSpaced(n, 0.0, 250.0).round();
    Eigen::ArrayXd b = (u > 125.0).cast<double>();
    for (int version : {1, 2, 3}) {
        nusky::write_npy_structured(p, {{"a", "<f8"}, {"f", "<f4"}, {"k", "<i2"}, {"u", "|u1"}, {"b", "|b1"},
                                        {"q", "<i8"}, {"w", "<u4"}},
                                    {a, a, k, u, b, k, u}, version);
        const nusky::NpyArray whole = nusky::parse_npy(slurp(p).data(), slurp(p).size(), p);
        nusky::NpyFile file(p);
        EXPECT_EQ(file.header().count, std::size_t(n));
        EXPECT_EQ(file.header().itemsize, 8u + 4 + 2 + 1 + 1 + 8 + 4);
        for (auto [first, count] : {std::pair{0, n}, std::pair{0, 1}, std::pair{100, 57}, std::pair{256, 1},
                                    std::pair{257, 0}, std::pair{13, 0}}) {
            const nusky::NpyArray block = file.read(std::size_t(first), std::size_t(count));
            EXPECT_EQ(block.first_row, std::size_t(first));
            EXPECT_EQ(block.count(), std::size_t(count));
            EXPECT_EQ(block.shape, whole.shape);
            ASSERT_EQ(block.names, whole.names);
            for (std::size_t c = 0; c < whole.columns.size(); ++c) {
                EXPECT_TRUE((block.columns[c] == whole.columns[c].segment(first, count)).all())
                    << "version " << version << " field " << whole.names[c] << " rows " << first << "+" << count;
            }
        }
        EXPECT_TRUE((file.read(0, n).column("b") == b).all());
        EXPECT_TRUE((file.read(0, n).column("k") == k).all());
    }
}

// More than one 4 MB read chunk (28-byte records: 149,796 rows a chunk): blocks across chunk
// boundaries still equal the whole file.
TEST(NpyFile, LargeBlocksAreReadInChunks)
{
    const std::string p = scratch("large.npy");
    const Eigen::Index n = 400003;
    Eigen::ArrayXd x = Eigen::ArrayXd::LinSpaced(n, 0.0, 1.0).sqrt();
    Eigen::ArrayXd k = Eigen::ArrayXd::LinSpaced(n, 0.0, double(n - 1));
    nusky::write_npy_structured(p, {{"x", "<f8"}, {"k", "<i8"}, {"y", "<f8"}, {"m", "<i4"}}, {x, k, -x, k});
    nusky::NpyFile file(p);
    ASSERT_EQ(file.header().itemsize, 28u);
    const nusky::NpyArray all = file.read(0, std::size_t(n));
    EXPECT_TRUE((all.column("x") == x).all());
    EXPECT_TRUE((all.column("y") == -x).all());
    EXPECT_TRUE((all.column("k") == k).all());
    EXPECT_TRUE((all.column("m") == k).all());
    const nusky::NpyArray block = file.read(100000, 250001);
    EXPECT_TRUE((block.column("x") == x.segment(100000, 250001)).all());
    EXPECT_TRUE((block.column("m") == k.segment(100000, 250001)).all());
}

TEST(NpyFile, RowsOutsideTheArrayAndShortBuffersAreErrors)
{
    const std::string p = scratch("rows.npy");
    nusky::write_npy_structured(p, {{"x", "<f8"}, {"y", "<i4"}}, {Eigen::ArrayXd::Ones(10), Eigen::ArrayXd::Zero(10)});
    nusky::NpyFile file(p);
    EXPECT_THROW(file.read(5, 6), Error);
    EXPECT_THROW(file.read(11, 0), Error);
    EXPECT_THROW(file.read(1, std::size_t(-1)), Error);  // no overflow into a "valid" range
    // decode_npy never reads past the bytes it is given.
    const std::vector<char> bytes(3 * 12 - 1);
    EXPECT_THROW(nusky::decode_npy(file.header(), bytes.data(), bytes.size(), 0, 3, p), Error);
    EXPECT_EQ(nusky::decode_npy(file.header(), bytes.data(), bytes.size(), 4, 2, p).count(), 2u);
}

// The file size is checked against the header without reading the data; errors name the file.
TEST(NpyFile, TruncatedOrOversizedFilesNameTheFile)
{
    const std::string p = scratch("short.npy");
    nusky::write_npy_structured(p, {{"x", "<f8"}, {"y", "<i4"}}, {Eigen::ArrayXd::Ones(100), Eigen::ArrayXd::Zero(100)});
    const std::string good = slurp(p);
    auto error = [&](const std::string& bytes) {
        spit(p, bytes);
        try {
            nusky::NpyFile file(p);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    EXPECT_EQ(error(good.substr(0, good.size() - 5)),
              p + ": truncated .npy data: shape (100,) needs 1200 bytes, file has 1195");
    EXPECT_EQ(error(good + "xyz"), p + ": shape mismatch: shape (100,) needs 1200 data bytes, file has 1203");
    EXPECT_EQ(error(good.substr(0, 50)).rfind(p + ": truncated .npy file (header of", 0), 0u);
    EXPECT_EQ(error(good.substr(0, 7)), p + ": truncated .npy file (no version)");
    EXPECT_EQ(error(""), p + ": not a NumPy .npy file (bad magic bytes)");
    EXPECT_EQ(error(good), "");
    std::filesystem::create_directories(scratch("dir.npy"));
    try {
        nusky::NpyFile file(scratch("dir.npy"));
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), scratch("dir.npy") + ": is a directory, expected a .npy file");
    }
}
