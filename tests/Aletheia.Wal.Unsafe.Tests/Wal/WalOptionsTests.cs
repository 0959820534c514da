using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

public sealed class WalOptionsTests : IDisposable
{
    private const string MaxSegment = "1099511627776";

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>One bad option each: the option, and the exact line that reports it.</summary>
    public static TheoryData<string, Func<string, WalOptions>, string> BadOptions => new()
    {
        { "Directory", d => new WalOptions { Directory = " " }, "WalOptions.Directory must name a directory; it is empty." },
        { "StripeCount", d => new WalOptions { Directory = d, StripeCount = 0 }, "WalOptions.StripeCount must be from 1 to 1024; it is 0." },
        { "StripeCount", d => new WalOptions { Directory = d, StripeCount = 5000 }, "WalOptions.StripeCount must be from 1 to 1024; it is 5000." },
        {
            "StripeCapacityBytes", d => new WalOptions { Directory = d, StripeCapacityBytes = 100 },
            "WalOptions.StripeCapacityBytes must be from 4096 to 1073741824 bytes; it is 100."
        },
        {
            "MaxEntryBytes", d => new WalOptions { Directory = d, MaxEntryBytes = 0 },
            "WalOptions.MaxEntryBytes must be from 1 to 524264 bytes with WalOptions.StripeCapacityBytes 1048576 (a record must fit in half a stripe of 1048576 bytes); it is 0."
        },
        {
            "MaxEntryBytes", d => new WalOptions { Directory = d, StripeCapacityBytes = 65536, MaxEntryBytes = 65536 },
            "WalOptions.MaxEntryBytes must be from 1 to 32744 bytes with WalOptions.StripeCapacityBytes 65536 (a record must fit in half a stripe of 65536 bytes); it is 65536."
        },
        {
            "MaxEntryBytes", d => new WalOptions { Directory = d, StripeCapacityBytes = 40000, MaxEntryBytes = 40000 },
            "WalOptions.MaxEntryBytes must be from 1 to 32744 bytes with WalOptions.StripeCapacityBytes 40000 (a record must fit in half a stripe of 65536 bytes); it is 40000."
        },
        {
            "SegmentSizeBytes", d => new WalOptions { Directory = d, SegmentSizeBytes = 1000 },
            $"WalOptions.SegmentSizeBytes must be from 65664 to {MaxSegment} bytes with WalOptions.MaxEntryBytes 65536 (a segment holds its headers and the largest record); it is 1000."
        },
        {
            "SegmentSizeBytes", d => new WalOptions { Directory = d, SegmentSizeBytes = 64 * 1024 },
            $"WalOptions.SegmentSizeBytes must be from 65664 to {MaxSegment} bytes with WalOptions.MaxEntryBytes 65536 (a segment holds its headers and the largest record); it is 65536."
        },
        {
            "SegmentSizeBytes", d => new WalOptions { Directory = d, MaxEntryBytes = 4096, SegmentSizeBytes = 65535 },
            $"WalOptions.SegmentSizeBytes must be from 65536 to {MaxSegment} bytes; it is 65535."
        },
        {
            "SegmentSizeBytes", d => new WalOptions { Directory = d, SegmentSizeBytes = 2L << 40 },
            $"WalOptions.SegmentSizeBytes must be from 65664 to {MaxSegment} bytes with WalOptions.MaxEntryBytes 65536 (a segment holds its headers and the largest record); it is 2199023255552."
        },
        {
            "WriteBufferBytes", d => new WalOptions { Directory = d, WriteBufferBytes = 100 },
            "WalOptions.WriteBufferBytes must be from 65664 to 1073741824 bytes with WalOptions.MaxEntryBytes 65536 (a write holds its headers and the largest record); it is 100."
        },
        {
            "RecoveryMode", d => new WalOptions { Directory = d, RecoveryMode = (WalRecoveryMode)7 },
            "WalOptions.RecoveryMode must be TruncateTornTail, PointInTime or Strict; it is 7."
        },
        {
            "WriteMode", d => new WalOptions { Directory = d, WriteMode = (WalWriteMode)2 },
            "WalOptions.WriteMode must be WriteThrough or DataSync; it is 2."
        },
        { "MaxRecycledSegments", d => new WalOptions { Directory = d, MaxRecycledSegments = 65 }, "WalOptions.MaxRecycledSegments must be from 0 to 64; it is 65." },
        {
            "UnixCreateMode", d => new WalOptions { Directory = d, UnixCreateMode = UnixFileMode.UserRead },
            "WalOptions.UnixCreateMode must be from 0600 to 0777 octal (the owner reads and writes; only the nine permission bits); it is 0400."
        },
        {
            "UnixCreateMode", d => new WalOptions { Directory = d, UnixCreateMode = UnixFileMode.SetUser | UnixFileMode.UserRead | UnixFileMode.UserWrite },
            "WalOptions.UnixCreateMode must be from 0600 to 0777 octal (the owner reads and writes; only the nine permission bits); it is 04600."
        },
        { "Name", d => new WalOptions { Directory = d, Name = "" }, $"{NameRule}; it is empty." },
        { "Name", d => new WalOptions { Directory = d, Name = new string('n', 129) }, $"{NameRule}; it has 129 characters." },
        { "Name", d => new WalOptions { Directory = d, Name = "orders\n" }, $"{NameRule}; it has the control character U+000A at index 6." },
        { "Name", d => new WalOptions { Directory = d, Name = "a\u0085b" }, $"{NameRule}; it has the control character U+0085 at index 1." },
    };

    private const string NameRule = "WalOptions.Name must be null or 1 to 128 characters, none of them a control character";

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void Invalid_option_names_itself_its_value_and_the_allowed_range(string option, Func<string, WalOptions> make, string line)
    {
        var e = Assert.Throws<ArgumentException>(() => WriteAheadLog.Open(make(_temp.Log())));
        Assert.Equal(option, e.ParamName);
        Assert.Equal($"{line} (Parameter '{option}')", e.Message);
        Assert.False(Directory.Exists(_temp.Log()), "Options are checked before anything is created.");
    }

    [Fact]
    public void Every_invalid_option_is_reported_at_once_one_line_each()
    {
        var options = new WalOptions { Directory = _temp.Log(), StripeCount = 0, SegmentSizeBytes = 1000, MaxRecycledSegments = 65, Name = "\t" };

        var e = Assert.Throws<ArgumentException>(() => WriteAheadLog.Open(options));

        Assert.Equal(
            string.Join(
                Environment.NewLine,
                "4 options are invalid:",
                "WalOptions.StripeCount must be from 1 to 1024; it is 0.",
                $"WalOptions.SegmentSizeBytes must be from 65664 to {MaxSegment} bytes with WalOptions.MaxEntryBytes 65536 (a segment holds its headers and the largest record); it is 1000.",
                "WalOptions.MaxRecycledSegments must be from 0 to 64; it is 65.",
                $"{NameRule}; it has the control character U+0009 at index 0."),
            e.Message);
        Assert.Null(e.ParamName); // four options are wrong: none is the parameter
        Assert.False(Directory.Exists(_temp.Log()), "Options are checked before anything is created.");
    }

    [Fact]
    public void A_bound_derived_from_a_bad_option_is_not_reported_again()
    {
        // A 100-byte stripe would cap MaxEntryBytes at a few bytes; the mistake is the stripe, reported once. MaxEntryBytes
        // is still checked against what does not depend on the stripe (at least 1), and the segment against it.
        var options = new WalOptions { Directory = _temp.Log(), StripeCapacityBytes = 100, MaxEntryBytes = 200_000, SegmentSizeBytes = 100_000 };

        var e = Assert.Throws<ArgumentException>(() => WriteAheadLog.Open(options));

        Assert.Equal(
            string.Join(
                Environment.NewLine,
                "2 options are invalid:",
                "WalOptions.StripeCapacityBytes must be from 4096 to 1073741824 bytes; it is 100.",
                $"WalOptions.SegmentSizeBytes must be from 200128 to {MaxSegment} bytes with WalOptions.MaxEntryBytes 200000 (a segment holds its headers and the largest record); it is 100000."),
            e.Message);
    }

    [Fact]
    public void The_published_minimum_segment_size_takes_a_record_of_the_default_maximum_size()
    {
        Assert.Equal(65_664, WalOptions.MinSegmentSizeBytes);
        string directory = _temp.Log();
        var options = new WalOptions { Directory = directory, SegmentSizeBytes = WalOptions.MinSegmentSizeBytes };
        byte[] first = Payloads.Make(1, 1, options.MaxEntryBytes);
        byte[] second = Payloads.Make(1, 2, options.MaxEntryBytes);
        using (WriteAheadLog log = WriteAheadLog.Open(options))
        {
            Assert.Equal(new Lsn(1), log.AppendDurable(first));
            Assert.Equal(new Lsn(2), log.AppendDurable(second)); // fills the next segment as exactly: a rotation at the limit
            Assert.Equal(WalOptions.MinSegmentSizeBytes, new FileInfo(SegmentNames.PathOf(directory, 1)).Length);
        }

        using (WriteAheadLog log = WriteAheadLog.Open(options))
        {
            Assert.Equal(new Lsn(2), log.LastLsn);
        }

        List<(ulong Lsn, byte[] Payload)> records = LogContents.ReadAll(directory);
        Assert.Equal([1ul, 2ul], records.Select(r => r.Lsn));
        Assert.Equal(first, records[0].Payload);
        Assert.Equal(second, records[1].Payload);
    }

    [Fact]
    public void A_name_of_128_characters_any_but_control_characters_is_taken()
    {
        string name = "é 注文/" + new string('x', 123);
        Assert.Equal(WalOptions.MaxNameLength, name.Length);
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = _temp.Log(), Name = name });
        Assert.Equal(new Lsn(1), log.AppendDurable([1]));
    }

    [Fact]
    public void Defaults_follow_the_contract()
    {
        var options = new WalOptions { Directory = "x" };
        Assert.Equal((int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount), options.StripeCount);
        Assert.Equal(1 << 20, options.StripeCapacityBytes);
        Assert.Equal(64L << 20, options.SegmentSizeBytes);
        Assert.Equal(64 * 1024, options.MaxEntryBytes);
        Assert.Equal(WalRecoveryMode.TruncateTornTail, options.RecoveryMode);
        Assert.Equal(WalWriteMode.WriteThrough, options.WriteMode);
        Assert.False(options.AllowForeignFiles);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, options.UnixCreateMode);
        Assert.Null(options.Name);
    }
}
