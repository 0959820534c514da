using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

/// <summary>WriteAheadLog.SyncDirectory: the directory fsync the log uses, offered for files kept beside a log.</summary>
public sealed class SyncDirectoryTests
{
    [Fact]
    public void A_directory_is_synced_a_missing_one_or_an_empty_name_is_refused()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(Path.Combine(dir.Path, "beside-the-log"), "x");
        WriteAheadLog.SyncDirectory(dir.Path);

        string missing = dir.Log("missing");
        if (!OperatingSystem.IsWindows())
        {
            var error = Assert.Throws<IOException>(() => WriteAheadLog.SyncDirectory(missing));
            Assert.Contains($"Cannot open directory '{missing}' to fsync it", error.Message);
        }

        Assert.Throws<ArgumentException>(() => WriteAheadLog.SyncDirectory(""));
        Assert.Throws<ArgumentNullException>(() => WriteAheadLog.SyncDirectory(null!));
    }
}
