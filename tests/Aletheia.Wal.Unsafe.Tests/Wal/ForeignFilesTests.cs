using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

/// <summary>
/// A new log is not created in a directory that holds other files (a mistyped path must not put a log among an
/// application's files), unless <see cref="WalOptions.AllowForeignFiles"/> says so; a directory that holds a log opens
/// whatever else is in it.
/// </summary>
public sealed class ForeignFilesTests : IDisposable
{
    private const string Advice =
        "A new log is not created among other files: point WalOptions.Directory at an empty or new directory, or set WalOptions.AllowForeignFiles to create the log there.";

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string DirectoryWith(params string[] names)
    {
        string directory = _temp.Log();
        Directory.CreateDirectory(directory);
        foreach (string name in names)
        {
            File.WriteAllText(Path.Combine(directory, name), $"the user's {name}");
        }

        return directory;
    }

    private static void AssertUntouched(string directory, params string[] names)
    {
        Assert.Equal(names.Order(StringComparer.Ordinal), Directory.GetFiles(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (string name in names)
        {
            Assert.Equal($"the user's {name}", File.ReadAllText(Path.Combine(directory, name)));
        }
    }

    [Fact]
    public void A_directory_with_other_files_and_no_log_is_refused_naming_it_and_the_files()
    {
        string directory = DirectoryWith("notes.txt", "data.db");

        var e = Assert.Throws<WalException>(() => WriteAheadLog.Open(new WalOptions { Directory = directory }));

        Assert.Equal($"The log directory '{directory}' holds no log (no wal.head and no segment file) but 2 other files: 'data.db', 'notes.txt'. {Advice}", e.Message);
        AssertUntouched(directory, "notes.txt", "data.db"); // not even the lock file was created
    }

    [Fact]
    public void The_refusal_names_the_first_five_files_and_counts_the_rest()
    {
        string[] names = ["a", "b", "c", "d", "e", "f", "g"];
        string directory = DirectoryWith(names);

        var e = Assert.Throws<WalException>(() => WriteAheadLog.Open(new WalOptions { Directory = directory }));

        Assert.Equal($"The log directory '{directory}' holds no log (no wal.head and no segment file) but 7 other files: 'a', 'b', 'c', 'd', 'e' and 2 more. {Advice}", e.Message);
        AssertUntouched(directory, names);
    }

    [Fact]
    public void Files_named_like_the_logs_kinds_but_not_its_names_are_foreign()
    {
        // Recovery deletes leftover *.wal.tmp files and recycled files it does not keep: only the log's exact names count
        // as its own, so that these survive. wal.lock is the log's own and is not listed.
        string[] names = ["notes.wal.tmp", "old.recycle", "backup.wal", SegmentNames.LockFileName];
        string directory = DirectoryWith(names);

        var e = Assert.Throws<WalException>(() => WriteAheadLog.Open(new WalOptions { Directory = directory }));

        Assert.Equal($"The log directory '{directory}' holds no log (no wal.head and no segment file) but 3 other files: 'backup.wal', 'notes.wal.tmp', 'old.recycle'. {Advice}", e.Message);
        AssertUntouched(directory, names);
    }

    [Fact]
    public void AllowForeignFiles_creates_the_log_among_them_and_leaves_them_alone()
    {
        string directory = DirectoryWith("notes.txt");
        var options = new WalOptions { Directory = directory, AllowForeignFiles = true };
        byte[] payload = Payloads.Make(1, 1, 100);

        using (WriteAheadLog log = WriteAheadLog.Open(options))
        {
            Assert.Equal(new Lsn(1), log.AppendDurable(payload));
        }

        (ulong Lsn, byte[] Payload) record = Assert.Single(LogContents.ReadAll(directory));
        Assert.Equal(1ul, record.Lsn);
        Assert.Equal(payload, record.Payload);
        Assert.Equal("the user's notes.txt", File.ReadAllText(Path.Combine(directory, "notes.txt")));
    }

    [Fact]
    public void A_log_directory_with_another_file_beside_the_log_opens()
    {
        string directory = _temp.Log();
        var options = new WalOptions { Directory = directory };
        byte[] payload = Payloads.Make(1, 1, 100);
        using (WriteAheadLog log = WriteAheadLog.Open(options))
        {
            log.AppendDurable(payload);
        }

        File.WriteAllText(Path.Combine(directory, "README"), "the user's README");
        using (WriteAheadLog log = WriteAheadLog.Open(options))
        {
            Assert.Equal(new Lsn(1), log.LastLsn);
            Assert.Equal(new Lsn(2), log.AppendDurable(payload));
        }

        Assert.Equal("the user's README", File.ReadAllText(Path.Combine(directory, "README")));
        Assert.Equal([1ul, 2ul], LogContents.ReadAll(directory).Select(r => r.Lsn));
    }

    [Fact]
    public void A_missing_or_empty_directory_or_one_with_only_the_logs_own_leftovers_is_a_new_log()
    {
        string missing = _temp.Log("missing");
        string empty = _temp.Log("empty");
        Directory.CreateDirectory(empty);

        // A creation that stopped short: the lock file, a segment half prepared, subdirectories (not counted).
        string leftovers = _temp.Log("leftovers");
        Directory.CreateDirectory(Path.Combine(leftovers, "subdirectory"));
        File.WriteAllBytes(Path.Combine(leftovers, SegmentNames.LockFileName), []);
        File.WriteAllBytes(Path.ChangeExtension(SegmentNames.PathOf(leftovers, 1), SegmentNames.PreparingExtension), new byte[4096]);

        foreach (string directory in new[] { missing, empty, leftovers })
        {
            using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory }))
            {
                Assert.Equal(new Lsn(1), log.AppendDurable(Payloads.Make(1, 1, 100)));
            }

            Assert.Equal([1ul], LogContents.ReadAll(directory).Select(r => r.Lsn));
        }
    }
}
