using System.Globalization;
using System.Runtime.Versioning;
using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

/// <summary>
/// Who may read the log: every file it creates has exactly <see cref="WalOptions.UnixCreateMode"/> (0600 by default) and
/// a directory it creates that mode plus search permission where read is given. Unix only: on Windows the option is
/// ignored and each test returns at once.
/// </summary>
public sealed class FileModeTests : IDisposable
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode, 8);

    /// <summary>Every file in <paramref name="directory"/> with its mode, in name order: "name 0600".</summary>
    [UnsupportedOSPlatform("windows")]
    private static List<string> FileModes(string directory)
    {
        var modes = new List<string>();
        foreach (string path in Directory.GetFiles(directory).Order(StringComparer.Ordinal))
        {
            modes.Add($"{Path.GetFileName(path)} {Octal(File.GetUnixFileMode(path))}");
        }

        return modes;
    }

    private static string Segment(ulong number, string extension = SegmentNames.Extension) =>
        number.ToString("D20", CultureInfo.InvariantCulture) + extension;

    [Fact]
    public void By_default_the_directory_is_0700_and_every_file_0600()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        string directory = _temp.Log();
        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory }))
        {
            log.AppendDurable(Payloads.Make(1, 1, 100));
            log.TestHookWaitForPreparedSegment();
            Assert.Equal("0700", Octal(File.GetUnixFileMode(directory)));
            Assert.Equal([$"{Segment(1)} 0600", $"{Segment(2)} 0600", "wal.head 0600", "wal.lock 0600"], FileModes(directory));
        }
    }

    [Fact]
    public void Recycled_segments_and_the_segments_made_from_them_keep_0600()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        // 31 durable records of 2,072 bytes fill a 64 KiB segment exactly (RecyclingTests): 100 of them fill segments 1
        // to 3 and start segment 4; segment 5 is prepared. Truncating below the last frees 1 to 3: two are recycled.
        string directory = _temp.Log();
        var options = new WalOptions { Directory = directory, SegmentSizeBytes = 64 * 1024, MaxEntryBytes = 4096, StripeCount = 1, MaxRecycledSegments = 2 };
        using WriteAheadLog log = WriteAheadLog.Open(options);
        for (int i = 0; i < 100; i++)
        {
            log.AppendDurable(Payloads.Make(1, i, 2072));
        }

        log.TestHookWaitForPreparedSegment();
        log.TruncateBefore(log.LastLsn);
        Assert.Equal(
            [$"{Segment(1, SegmentNames.RecycledExtension)} 0600", $"{Segment(2, SegmentNames.RecycledExtension)} 0600", $"{Segment(4)} 0600", $"{Segment(5)} 0600", "wal.head 0600", "wal.lock 0600"],
            FileModes(directory));

        // Segment 4 takes 24 more; the next record rotates into segment 5, which prepares segment 6 from a recycled file:
        // renamed, it keeps its mode.
        for (int i = 100; i < 125; i++)
        {
            log.AppendDurable(Payloads.Make(1, i, 2072));
        }

        log.TestHookWaitForPreparedSegment();
        Assert.Equal(
            [$"{Segment(2, SegmentNames.RecycledExtension)} 0600", $"{Segment(4)} 0600", $"{Segment(5)} 0600", $"{Segment(6)} 0600", "wal.head 0600", "wal.lock 0600"],
            FileModes(directory));
    }

    [Theory]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, "0750", "0640")]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, "0770", "0660")]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, "0755", "0644")]
    public void A_chosen_mode_is_given_to_every_file_and_with_search_permission_to_the_directory(UnixFileMode mode, string directoryMode, string fileMode)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        string directory = _temp.Log();
        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, UnixCreateMode = mode }))
        {
            log.AppendDurable(Payloads.Make(1, 1, 100));
            log.TestHookWaitForPreparedSegment();
            Assert.Equal(directoryMode, Octal(File.GetUnixFileMode(directory)));
            Assert.Equal([$"{Segment(1)} {fileMode}", $"{Segment(2)} {fileMode}", $"wal.head {fileMode}", $"wal.lock {fileMode}"], FileModes(directory));
        }
    }

    [Fact]
    public void An_existing_directory_and_existing_files_keep_their_modes()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        string directory = _temp.Log();
        Directory.CreateDirectory(directory);
        File.SetUnixFileMode(directory, OwnerOnly | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute); // 0750
        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory }))
        {
            log.AppendDurable(Payloads.Make(1, 1, 100));
        }

        // A file of the log whose mode its owner changed keeps it when another writer opens the log with another mode.
        File.SetUnixFileMode(Path.Combine(directory, "wal.head"), OwnerOnly | UnixFileMode.GroupRead);
        File.SetUnixFileMode(Path.Combine(directory, "wal.lock"), OwnerOnly | UnixFileMode.GroupRead);
        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, UnixCreateMode = OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.GroupWrite }))
        {
            log.TestHookWaitForPreparedSegment();
        }

        Assert.Equal("0750", Octal(File.GetUnixFileMode(directory)));
        Assert.Equal([$"{Segment(1)} 0600", $"{Segment(2)} 0600", "wal.head 0640", "wal.lock 0640"], FileModes(directory));
    }
}
