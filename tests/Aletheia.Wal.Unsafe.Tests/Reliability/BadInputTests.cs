using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Reliability;

/// <summary>
/// The table of bad inputs: each gets its clear error (type and message), and nothing is lost. Every case runs against a
/// log holding acknowledged records; afterwards the log still takes appends, and reopening finds every acknowledged
/// record byte-exact. Invalid options have their own table (WalOptionsTests); calls after Dispose and cancellation
/// have their own tests (WriteAheadLogTests, CancellationTests).
/// </summary>
public sealed class BadInputTests : IDisposable
{
    private const int MaxEntry = 1000;

    private static readonly Dictionary<string, Action<Case>> s_cases = new()
    {
        ["payload over MaxEntryBytes, every append form"] = c =>
        {
            byte[] big = new byte[MaxEntry + 1];
            foreach (Action append in new Action[]
            {
                () => c.Log.Append(big),
                () => c.Log.TryAppend(big, out _),
                () => c.Log.AppendDurable(big),
                () => c.Log.AppendDurableAsync(big),
                () => c.Log.Append(big.Length, 0, static (_, _) => { }),
            })
            {
                var e = Assert.Throws<ArgumentException>(append);
                Assert.Contains($"{MaxEntry + 1} bytes", e.Message, StringComparison.Ordinal);
                Assert.Contains($"MaxEntryBytes ({MaxEntry} bytes)", e.Message, StringComparison.Ordinal);
            }
        },
        ["negative in-place length"] = c =>
            Assert.Contains("-1", Assert.ThrowsAny<ArgumentException>(() => c.Log.Append(-1, 0, static (_, _) => { })).Message, StringComparison.Ordinal),
        ["empty payload (allowed)"] = c => c.Acknowledge(c.Log.AppendDurable([]), []),
        ["in-place writer that throws"] = c =>
        {
            Lsn before = c.Log.LastLsn;
            Assert.Equal("serializer", Assert.Throws<FormatException>(() => c.Log.Append(16, 0, static (_, _) => throw new FormatException("serializer"))).Message);
            Assert.Equal(before, c.Log.LastLsn); // no LSN taken, so none is missing
        },
        ["WaitForDurable on an LSN never handed out"] = c =>
        {
            Lsn never = new(c.Log.LastLsn.Value + 5);
            Assert.Contains($"highest LSN handed out is {c.Log.LastLsn}", Assert.Throws<ArgumentOutOfRangeException>(() => c.Log.WaitForDurable(never)).Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentOutOfRangeException>(() => c.Log.WaitForDurableAsync(never));
        },
        ["a second writer on the same directory"] = c =>
            Assert.Contains("locked by another writer", Assert.Throws<WalException>(() => WriteAheadLog.Open(Options(c.Directory))).Message, StringComparison.Ordinal),
        ["a directory that is a file"] = c =>
        {
            string file = Path.Combine(Path.GetDirectoryName(c.Directory)!, "a-file");
            File.WriteAllText(file, "x");
            Assert.Contains("is a file", Assert.Throws<WalException>(() => WriteAheadLog.Open(Options(file))).Message, StringComparison.Ordinal);
            Assert.Equal("x", File.ReadAllText(file));
        },
        ["a directory that cannot be created (under /proc)"] = c =>
        {
            if (OperatingSystem.IsLinux())
            {
                Assert.Contains("Cannot create the log directory", Assert.Throws<WalException>(() => WriteAheadLog.Open(Options("/proc/aletheia-wal"))).Message, StringComparison.Ordinal);
            }
        },
        ["a directory without write permission (/sys: not even root may create files)"] = c =>
        {
            if (OperatingSystem.IsLinux())
            {
                var e = Assert.Throws<WalException>(() => WriteAheadLog.Open(Options("/sys")));
                Assert.Contains("not writable", e.Message, StringComparison.Ordinal);
                Assert.DoesNotContain("locked", e.Message, StringComparison.Ordinal);
            }
        },
        ["empty directory option"] = c =>
            Assert.Equal("Directory", Assert.Throws<ArgumentException>(() => WriteAheadLog.Open(new WalOptions { Directory = " " })).ParamName),
        ["null options"] = c => Assert.Throws<ArgumentNullException>(() => WriteAheadLog.Open(null!)),
        ["a reader on a directory that is not a log"] = c =>
        {
            string other = Path.Combine(Path.GetDirectoryName(c.Directory)!, "not-a-log");
            Directory.CreateDirectory(other);
            File.WriteAllText(Path.Combine(other, "notes.txt"), "not a log");
            Assert.Contains("not a log directory", Assert.Throws<WalException>(() => WalReader.Open(other)).Message, StringComparison.Ordinal);
        },
        ["a reader on a missing directory"] = c =>
            Assert.Throws<DirectoryNotFoundException>(() => WalReader.Open(Path.Combine(Path.GetDirectoryName(c.Directory)!, "missing"))),
        ["Dispose twice, then a call"] = c =>
        {
            c.Log.Dispose();
            c.Log.Dispose();
            Assert.Throws<ObjectDisposedException>(() => c.Log.Append([1]));
        },
    };

    private readonly TempDirectory _temp = new();

    public static TheoryData<string> Cases => [.. s_cases.Keys];

    public void Dispose() => _temp.Dispose();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Bad_input_gets_a_clear_error_and_loses_nothing(string name)
    {
        var c = new Case(_temp.Log());
        using (c.Log)
        {
            for (int i = 0; i < 10; i++)
            {
                byte[] payload = Payloads.Make(1, i, 10 + (i * 90));
                c.Acknowledge(c.Log.AppendDurable(payload), payload);
            }

            s_cases[name](c);
            try
            {
                byte[] after = Payloads.Make(2, 0, 64);
                c.Acknowledge(c.Log.AppendDurable(after), after); // the log still works
            }
            catch (ObjectDisposedException) when (name.StartsWith("Dispose", StringComparison.Ordinal))
            {
            }
        }

        using (WriteAheadLog reopened = WriteAheadLog.Open(Options(c.Directory)))
        {
            Assert.Equal(c.Acknowledged[^1].Lsn, reopened.LastLsn);
        }

        var records = LogContents.ReadAll(c.Directory, WalRecoveryMode.Strict);
        Assert.Equal(c.Acknowledged.Select(a => a.Lsn.Value), records.Select(r => r.Lsn));
        for (int i = 0; i < records.Count; i++)
        {
            Assert.Equal(c.Acknowledged[i].Payload, records[i].Payload);
        }
    }

    private static WalOptions Options(string directory) =>
        new() { Directory = directory, StripeCount = 2, StripeCapacityBytes = 64 * 1024, SegmentSizeBytes = 1 << 20, MaxEntryBytes = MaxEntry };

    private sealed class Case(string directory)
    {
        public string Directory { get; } = directory;

        public WriteAheadLog Log { get; } = WriteAheadLog.Open(Options(directory));

        public List<(Lsn Lsn, byte[] Payload)> Acknowledged { get; } = [];

        public void Acknowledge(Lsn lsn, byte[] payload) => Acknowledged.Add((lsn, payload));
    }
}
