using System.IO.Compression;
using System.Xml.Linq;

namespace Aletheia.Wal.Tests.Support;

/// <summary>What a packed .nupkg holds: its nuspec's metadata and its files (for the package tests of every project).</summary>
internal static class PackageFile
{
    /// <summary>The <c>metadata</c> element of the package's nuspec.</summary>
    public static XElement Metadata(string nupkg)
    {
        using ZipArchive package = ZipFile.OpenRead(nupkg);
        using Stream nuspec = package.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
        return XDocument.Load(nuspec).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
    }

    /// <summary>The text of the metadata element <paramref name="name"/> (exactly one).</summary>
    public static string Value(XElement metadata, string name) => metadata.Elements().Single(e => e.Name.LocalName == name).Value;

    /// <summary>The paths of the files the package holds.</summary>
    public static string[] Entries(string nupkg)
    {
        using ZipArchive package = ZipFile.OpenRead(nupkg);
        return [.. package.Entries.Select(e => e.FullName)];
    }

    /// <summary>The bytes of the package's file <paramref name="path"/>.</summary>
    public static byte[] Read(string nupkg, string path)
    {
        using ZipArchive package = ZipFile.OpenRead(nupkg);
        using Stream stream = package.GetEntry(path)!.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
